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
	"strings"
	"text/tabwriter"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse-auth/gatehouse/portal"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gatehouse",
		Usage: "user add|list [flags]",
		Short: "Manages Gatehouse users on the running instance",
		Long: `
Manages Gatehouse on a running Caddy through its admin API (like
'caddy trust'), so the server keeps sole ownership of its database.

  caddy gatehouse user add --username alice --password-stdin \
      [--email alice@example.com] [--name "Alice Liddell"] \
      [--role owner] [--groups admins,ops]
  caddy gatehouse user list

Groups that do not exist yet are created. The admin address is taken from
--address, or from the config given with --config, or Caddy's default
(localhost:2019).
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userCommand())
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
	add.Flags().String("email", "", "E-mail address")
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

// adminCall sends one request to the running instance's admin API and
// decodes the JSON answer into out.
func adminCall(fl caddycmd.Flags, method, uri string, body []byte, out any) error {
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return fmt.Errorf("find the admin API: %w", err)
	}
	hdr := http.Header{}
	var rd io.Reader
	if body != nil {
		hdr.Set("Content-Type", "application/json")
		rd = bytes.NewReader(body)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, hdr, rd)
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
