package engine

// RefusalStatuses are the HTTP statuses the engine counts refusals by
// (Stats.Refusals): every status it answers before an upgrade, and 0 for
// any other. The set is fixed so that it can be a metric label.
var RefusalStatuses = [refusalSlots]int{400, 401, 403, 404, 405, 408, 426, 429, 431, 500, 502, 503, 504, 0}

const refusalSlots = 14

// refusalSlot returns the index of status in RefusalStatuses; a status not
// listed gets the last slot (0).
func refusalSlot(status int) int {
	for i, st := range RefusalStatuses[:refusalSlots-1] {
		if st == status {
			return i
		}
	}
	return refusalSlots - 1
}
