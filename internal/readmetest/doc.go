// Package readmetest runs the shell examples of the project's README.md, in
// order, in one bash shell, from a fresh folder holding the source, as a
// newcomer who pastes them would: the README cannot drift from what cordon
// does. It has no code of its own; see readme_test.go.
//
// A block that cannot run on a test machine (it needs Docker, or a host
// named in the example) is preceded by a comment saying why:
//
//	<!-- readme-test: skip needs a Docker engine -->
//
// and the test lists every skipped block with its reason.
package readmetest
