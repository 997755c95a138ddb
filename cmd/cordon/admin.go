package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

type accountOut struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	CreatedAt         time.Time  `json:"created_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
	LockedAt          *time.Time `json:"locked_at"`
}

type sessionOut struct {
	ID     string `json:"id"`
	Client struct {
		Platform, Version, Source, Device string
	} `json:"client"`
	AuthTime   time.Time `json:"auth_time"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("user needs a verb: add, import, show, sessions, revoke-sessions, lock, unlock, delete, list")
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	switch args[0] {
	case "add":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("user add takes one USERNAME; the password is read from stdin")
		}
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		var a accountOut
		if err := client().Do(ctx, "POST", "/admin/v1/accounts", map[string]string{"username": pos[0], "password": pw}, &a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s)\n", a.Username, a.ID)
		return nil
	case "import":
		return runImport(ctx, fs, client, args[1:], stdout, stderr)
	case "lock", "unlock", "delete", "list":
		return runUserLife(ctx, fs, client, args[0], args[1:], stdout)
	case "show", "sessions", "revoke-sessions":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("user %s takes one USER (account id or username)", args[0])
		}
		ref := "/admin/v1/accounts/" + url.PathEscape(pos[0])
		switch args[0] {
		case "show":
			var a accountOut
			if err := client().Do(ctx, "GET", ref, nil, &a); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "id:                  %s\nusername:            %s\ncreated:             %s\npassword changed:    %s\nlocked:              %s\n",
				a.ID, a.Username, a.CreatedAt.Format(time.RFC3339), a.PasswordChangedAt.Format(time.RFC3339), stamp(a.LockedAt))
		case "sessions":
			var out struct {
				Sessions []sessionOut `json:"sessions"`
			}
			if err := client().Do(ctx, "GET", ref+"/sessions", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SESSION\tPLATFORM\tVERSION\tSOURCE\tDEVICE\tAUTH TIME\tLAST SEEN")
			for _, s := range out.Sessions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Client.Platform, s.Client.Version, s.Client.Source, s.Client.Device,
					s.AuthTime.Format(time.RFC3339), s.LastSeenAt.Format(time.RFC3339))
			}
			tw.Flush()
		case "revoke-sessions":
			var out struct {
				Revoked []string `json:"revoked"`
			}
			if err := client().Do(ctx, "DELETE", ref+"/sessions", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked %d session(s)\n", len(out.Revoked))
		}
		return nil
	}
	return usageError("unknown verb user %s", args[0])
}

// readPassword reads the password from stdin: with a prompt and twice
// when stdin is a terminal, else the first line. Never from argv, where
// it would sit in shell history and the process list.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReaderSize(stdin, 8192).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on stdin (pipe it in, e.g. printf '%s\\n' \"$PW\" | cordon user add NAME)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runSession(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "revoke" {
		return usageError("session needs a verb: revoke")
	}
	fs := flag.NewFlagSet("session revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("session revoke takes one SESSION_ID")
	}
	if err := client().Do(ctx, "DELETE", "/admin/v1/sessions/"+url.PathEscape(pos[0]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", pos[0])
	return nil
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError("keys needs a verb: rotate")
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError("keys rotate takes no arguments")
	}
	var out struct {
		KID string `json:"kid"`
	}
	if err := client().Do(ctx, "POST", "/admin/v1/keys/rotate", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s; the previous key stays published until its tokens expire\n", out.KID)
	return nil
}
