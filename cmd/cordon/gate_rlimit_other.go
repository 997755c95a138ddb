//go:build !unix

package main

// fileLimit is unknown here: the default connection limit applies.
func fileLimit() uint64 { return 0 }
