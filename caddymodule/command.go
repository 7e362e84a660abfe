package caddymodule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse-auth/gatehouse/portal"
	"github.com/gatehouse-auth/gatehouse/store"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gatehouse",
		Usage: "user add|list [flags] | export [--format csv|json] | import FILE [--dry-run] | owner-login [--username U] | backup FILE | restore FILE --storage DIR | directory sync | oidc rotate-keys",
		Short: "Manages Gatehouse users on the running instance",
		Long: `
Manages Gatehouse on a running Caddy through its admin API (like
'caddy trust'), so the server keeps sole ownership of its database.

  caddy gatehouse user add --username alice --password-stdin \
      [--email alice@example.com] [--name "Alice Liddell"] \
      [--role owner] [--groups admins,ops]
  caddy gatehouse user list
  caddy gatehouse export [--format csv|json] [--output FILE]
  caddy gatehouse import FILE [--format csv|json] [--dry-run]
  caddy gatehouse owner-login [--username U]
  caddy gatehouse backup FILE
  caddy gatehouse restore FILE --storage DIR
  caddy gatehouse directory sync [--json]
  caddy gatehouse oidc rotate-keys [--json]

An import checks every row first and imports nothing if any row is bad,
listing each problem with its row number. Imported users get a link to set
their password (printed, and emailed when SMTP is configured).

Groups that do not exist yet are created.

owner-login prints a one-time link, valid 15 minutes, that signs an owner
in without password or second factor: the way back in for an owner who
lost their device. Without --username it is the first active owner by
username. Treat the link like a password.

backup writes a full, consistent backup of the running database (users,
groups, roles, sessions, second factors, API keys, audit log, …) to FILE,
mode 0600. Secrets in it are hashed or encrypted as on disk, but the
server key <storage>/secret.key is not in it: back that file up too, or
TOTP and API keys stop working after a restore.

restore works offline, with Gatehouse stopped: it loads FILE into DIR,
which must be empty or missing. Then copy secret.key into DIR before
starting Caddy with storage DIR. --storage may instead be a PostgreSQL URL
(postgres://user:password@host:5432/db?sslmode=…) of a database without
Gatehouse records: a backup from Badger moves to PostgreSQL this way, and
one from PostgreSQL back into a directory. With PostgreSQL, secret.key
goes into Caddy's data directory + /gatehouse.

directory sync synchronises the accounts with the external directory
(directory ldap { … }) now and prints what it did: accounts created,
updated and disabled (people gone from the directory), groups created,
and the errors.

oidc rotate-keys makes a new signing key for the OpenID Connect provider
(of oidc_provider's signing_algorithm): ID tokens are signed with it at
once, and the key it replaces stays in the JWKS, so tokens signed before
still verify; the key before that one is dropped.

The admin address is taken from --address, or from the config given with
--config, or Caddy's default (localhost:2019).
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userCommand(), exportCommand(), importCommand(), ownerLoginCommand(),
				backupCommand(), restoreCommand(), directoryCommand(), oidcCommand())
		},
	})
}

func userCommand() *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Adds and lists users"}
	add := &cobra.Command{
		Use:   "add --username NAME --password-stdin [--email E] [--name N] [--role R] [--groups g1,g2]",
		Short: "Creates a user",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdUserAdd),
	}
	add.Flags().String("username", "", "Username (lowercase letters, digits, . - _)")
	add.Flags().Bool("password-stdin", false, "Read the password from standard input (required)")
	add.Flags().String("email", "", "Email address")
	add.Flags().String("name", "", "Full name")
	add.Flags().String("role", "user", "Role: owner, admin, operator, user_manager, auditor or user")
	add.Flags().String("groups", "", "Comma-separated groups (created if missing)")
	addAdminFlags(add)

	list := &cobra.Command{
		Use:   "list",
		Short: "Lists users",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdUserList),
	}
	list.Flags().Bool("json", false, "Print JSON instead of a table")
	addAdminFlags(list)

	user.AddCommand(add, list)
	return user
}

func exportCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "export [--format csv|json] [--output FILE]",
		Short: "Exports every user as CSV or JSON",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdExport),
	}
	c.Flags().String("format", "csv", "csv or json")
	c.Flags().StringP("output", "o", "", "Write to this file instead of standard output")
	addAdminFlags(c)
	return c
}

func importCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "import FILE [--format csv|json] [--dry-run]",
		Short: "Imports users from a CSV or JSON file (- for standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
				return cmdImport(fl, args[0])
			})(cmd, args)
		},
	}
	c.Flags().String("format", "", "csv or json (default: guessed from the file)")
	c.Flags().Bool("dry-run", false, "Check every row and report, without importing")
	addAdminFlags(c)
	return c
}

func cmdExport(fl caddycmd.Flags) (int, error) {
	format := fl.String("format")
	if format != "csv" && format != "json" {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--format must be csv or json, not %q", format)
	}
	data, err := adminRaw(fl, http.MethodGet, "/gatehouse/users/export?format="+format, nil, "")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if out := fl.String("output"); out != "" {
		if err := os.WriteFile(out, data, 0o600); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("write %s: %w", out, err)
		}
		return caddy.ExitCodeSuccess, nil
	}
	_, err = os.Stdout.Write(data)
	return caddy.ExitCodeSuccess, err
}

func cmdImport(fl caddycmd.Flags, file string) (int, error) {
	var (
		data []byte
		err  error
	)
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 4<<20))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("read %s: %w", file, err)
	}
	format := fl.String("format")
	if format == "" && (strings.HasSuffix(file, ".json") || strings.HasSuffix(file, ".csv")) {
		format = file[strings.LastIndexByte(file, '.')+1:]
	}
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	if fl.Bool("dry-run") {
		q.Set("dry_run", "1")
	}
	raw, err := adminRaw(fl, http.MethodPost, "/gatehouse/users/import?"+q.Encode(), data, "application/octet-stream")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	var res portal.ImportResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("bad answer from the admin API: %w", err)
	}
	if len(res.Problems) > 0 {
		for _, p := range res.Problems {
			field := ""
			if p.Field != "" {
				field = p.Field + ": "
			}
			fmt.Fprintf(os.Stderr, "row %d: %s%s\n", p.Row, field, p.Error)
		}
		return caddy.ExitCodeFailedStartup, fmt.Errorf("%d of %d rows have problems; nothing was imported", len(res.Problems), res.Valid+len(res.Problems))
	}
	if res.DryRun {
		fmt.Printf("all %d rows are valid; nothing was imported (dry run)\n", res.Valid)
		return caddy.ExitCodeSuccess, nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSET-PASSWORD LINK")
	for _, u := range res.Created {
		fmt.Fprintf(tw, "%s\t%s\n", u.Username, u.Link)
	}
	if err := tw.Flush(); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

func ownerLoginCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "owner-login [--username U]",
		Short: "Prints a one-time link that signs an owner in, bypassing the second factor",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdOwnerLogin),
	}
	c.Flags().String("username", "", "Owner to sign in (default: the first active owner by username)")
	addAdminFlags(c)
	return c
}

func cmdOwnerLogin(fl caddycmd.Flags) (int, error) {
	body, err := json.Marshal(map[string]string{"username": fl.String("username")})
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	var res struct {
		Link      string    `json:"link"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := adminCall(fl, http.MethodPost, "/gatehouse/owner-login", body, &res); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Printf("%s\n\nOpen this link to sign in as the owner without password or second factor.\n"+
		"It works once and expires at %s (in %s). Anyone with it can sign in: do not share it.\n",
		res.Link, res.ExpiresAt.UTC().Format(time.RFC3339), time.Until(res.ExpiresAt).Round(time.Minute))
	return caddy.ExitCodeSuccess, nil
}

func backupCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "backup FILE",
		Short: "Writes a full backup of the running Gatehouse database to FILE (mode 0600)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
				return cmdBackup(fl, args[0])
			})(cmd, args)
		},
	}
	addAdminFlags(c)
	return c
}

func cmdBackup(fl caddycmd.Flags, file string) (int, error) {
	data, err := adminRaw(fl, http.MethodGet, "/gatehouse/backup", nil, "")
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("backup: %w", err)
	}
	if len(data) == 0 {
		return caddy.ExitCodeFailedStartup, errors.New("backup: the admin API sent an empty backup")
	}
	if err := writeFileAtomic(file, data, 0o600); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("backup: %w", err)
	}
	fmt.Printf("wrote backup to %s (%d bytes)\n"+
		"Keep it private, and back up the server key <storage>/secret.key separately:\n"+
		"without it TOTP secrets and API keys do not work after a restore.\n", file, len(data))
	return caddy.ExitCodeSuccess, nil
}

// writeFileAtomic writes data to a temporary file beside name and renames
// it over name, so name is never left half-written.
func writeFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func restoreCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "restore FILE --storage DIR",
		Short: "Restores a backup into an empty storage directory (offline, with Gatehouse stopped)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
				return cmdRestore(fl, args[0])
			})(cmd, args)
		},
	}
	c.Flags().String("storage", "", "Empty or new directory to restore into (the storage of the gatehouse app)")
	return c
}

func cmdRestore(fl caddycmd.Flags, file string) (int, error) {
	dir := fl.String("storage")
	if dir == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--storage DIR is required: the empty or new directory (or PostgreSQL URL) to restore into")
	}
	f, err := os.Open(file)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := store.Restore(dir, bufio.NewReaderSize(f, 1<<20)); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("restore %s: %w", file, err)
	}
	keyDir, name := keyDirOf(dir), store.RedactDSN(dir)
	fmt.Printf("restored %s into %s\n\nNext:\n"+
		"  1. copy the server key secret.key from the backed-up storage into %s (mode 0600);\n"+
		"     without it TOTP secrets and API keys do not work (a new key would be made on start)\n"+
		"  2. set the gatehouse storage to %s (if it is not already) and start Caddy\n", file, name, keyDir, name)
	return caddy.ExitCodeSuccess, nil
}

func addAdminFlags(c *cobra.Command) {
	c.Flags().String("address", "", "Address of the administration API listener (if --config is not used)")
	c.Flags().StringP("config", "c", "", "Configuration file (if --address is not used)")
	c.Flags().StringP("adapter", "a", "", "Name of config adapter to apply (if --config is used)")
}

func cmdUserAdd(fl caddycmd.Flags) (int, error) {
	nu := portal.NewUser{
		Username: fl.String("username"),
		Email:    fl.String("email"),
		FullName: fl.String("name"),
		Role:     fl.String("role"),
	}
	if nu.Username == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--username is required")
	}
	if !fl.Bool("password-stdin") {
		return caddy.ExitCodeFailedStartup, errors.New("--password-stdin is required: pass the password on standard input, never on the command line")
	}
	for _, g := range strings.Split(fl.String("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			nu.Groups = append(nu.Groups, g)
		}
	}
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	nu.Password = pw
	body, err := json.Marshal(nu)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	var u portal.UserView
	if err := adminCall(fl, http.MethodPost, "/gatehouse/users", body, &u); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Printf("created user %s (role %s, id %s)\n", u.Username, u.Role, u.ID)
	return caddy.ExitCodeSuccess, nil
}

func cmdUserList(fl caddycmd.Flags) (int, error) {
	var all []portal.UserView
	after := ""
	for {
		var page struct {
			Items []portal.UserView `json:"items"`
			Next  string            `json:"next"`
		}
		if err := adminCall(fl, http.MethodGet, "/gatehouse/users?limit=500&after="+url.QueryEscape(after), nil, &page); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if fl.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		return caddy.ExitCodeSuccess, nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tEMAIL\tNAME\tROLE\tGROUPS\tACTIVE")
	for _, u := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\n", u.Username, u.Email, u.FullName, u.Role, strings.Join(u.Groups, ","), u.Active)
	}
	if err := tw.Flush(); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

// readPassword reads one line: without echo from a terminal, else as piped.
func readPassword(f *os.File) (string, error) {
	if term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

// adminCall sends one request with a JSON body to the running instance's
// admin API and decodes the JSON answer into out.
func adminCall(fl caddycmd.Flags, method, uri string, body []byte, out any) error {
	raw, err := adminRaw(fl, method, uri, body, "application/json")
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// adminRaw sends one request to the running instance's admin API and
// returns the answer's body.
func adminRaw(fl caddycmd.Flags, method, uri string, body []byte, contentType string) ([]byte, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return nil, fmt.Errorf("find the admin API: %w", err)
	}
	hdr := http.Header{}
	var rd io.Reader
	if body != nil {
		hdr.Set("Content-Type", contentType)
		rd = bytes.NewReader(body)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, hdr, rd)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
