package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestWarnSecrets: a password given on the command line, or in a config
// file other users may read, is named in a warning saying how to keep it
// private; the environment, a 0600 file and URLs without a password say
// nothing.
func TestWarnSecrets(t *testing.T) {
	private := configFile(t, "smtp-url: smtp://cordon:s3cret@relay.example:587\n")
	loose := configFile(t, "store: postgres://cordon:s3cret@db.example/cordon\n")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"argv", []string{"--smtp-url", "smtp://cordon:s3cret@relay.example:587"}, nil, "--smtp-url carries a password on the command line"},
		{"argv bus", []string{"--bus", "nats://u:p@nats.example:4222"}, nil, "set CORDON_BUS"},
		{"a loose config file", []string{"--config", loose}, nil, "other users may read the file (mode -rw-r--r--)"},
		{"a private config file", []string{"--config", private}, nil, ""},
		{"the environment", nil, map[string]string{"CORDON_SMTP_URL": "smtp://cordon:s3cret@relay.example:587"}, ""},
		{"no password", []string{"--smtp-url", "smtp://relay.example:587", "--store", "postgres://db.example/cordon"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := serveFlags(t, "serve", tc.args...)
			onArgv := argvFlags(cmd.Flags())
			if err := settle(cmd.Flags(), func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			var w bytes.Buffer
			warnSecrets(cmd.Flags(), onArgv, &w)
			if tc.want == "" && w.Len() != 0 || !strings.Contains(w.String(), tc.want) {
				t.Errorf("warnings %q, want %q", w.String(), tc.want)
			}
			if strings.Contains(w.String(), "s3cret") {
				t.Errorf("the warning repeats the password: %q", w.String())
			}
		})
	}
}
