// Package jwttest makes JSON Web Tokens for tests the way an issuer would:
// JWS compact tokens signed with golang-jwt and JWE compact tokens
// encrypted with go-jose, the libraries real issuers use. It is its own
// package, apart from internal/testutil, so that only the tests that make
// tokens link those libraries.
package jwttest
