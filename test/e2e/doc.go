// Package e2e runs vncrelay's built binary against clients it did not write:
// Node's ws, Python's websockets, and noVNC in headless Chromium talking to a
// real TigerVNC server. `make e2e-deps` (or .ci/deps.sh) installs them.
package e2e
