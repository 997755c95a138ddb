// Package deploytest checks the files of deploy/ as far as this machine
// allows: the systemd unit with systemd-analyze (verify, and its security
// exposure), the Dockerfile's structure (stages, a non-root final user, no
// downloads by ADD; hadolint too when installed), and compose.yaml's
// services, whose every flag must be one the built binary's `serve` or
// `gate` accepts. It holds tests only.
package deploytest
