package main

import (
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/pflag"
)

// secretFlags are the flags whose value may carry a password (a URL's
// user info).
var secretFlags = []string{"smtp-url", "store", "bus"}

// warnSecrets tells the operator where a password it gave can be read by
// others, before anything starts: on the command line (every user of the
// machine sees it in `ps`), or in a config file others may read. It is a
// warning, not a refusal: the documented forms still work.
func warnSecrets(fs *pflag.FlagSet, onArgv map[string]bool, w io.Writer) {
	file, _ := fs.GetString("config")
	var loose bool
	if file != "" {
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
			loose = true
		}
	}
	for _, name := range secretFlags {
		f := fs.Lookup(name)
		if f == nil || !hasPassword(f.Value.String()) {
			continue
		}
		switch {
		case onArgv[name]:
			fmt.Fprintf(w, "cordon: warning: --%s carries a password on the command line, where ps shows it to every user of this machine; set %s or put it in a config file of mode 0600 instead\n", name, envName(name))
		case loose && os.Getenv(envName(name)) == "":
			fmt.Fprintf(w, "cordon: warning: %s gives --%s a password, and other users may read the file (mode %v); chmod 600 %s\n", file, name, mustMode(file), file)
		}
	}
}

// argvFlags names the flags set on the command line (before settle adds
// the environment's and the config file's).
func argvFlags(fs *pflag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	return set
}

func hasPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

func mustMode(file string) os.FileMode {
	st, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return st.Mode().Perm()
}
