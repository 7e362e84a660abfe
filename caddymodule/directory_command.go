package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/core"
)

// directoryCommand is `caddy gatehouse directory sync`.
func directoryCommand() *cobra.Command {
	dir := &cobra.Command{Use: "directory", Short: "Works with the external directory (directory ldap { … })"}
	sync := &cobra.Command{
		Use:   "sync [--json]",
		Short: "Synchronizes the accounts with the external directory now",
		Args:  cobra.NoArgs,
		RunE:  caddycmd.WrapCommandFuncForCobra(cmdDirectorySync),
	}
	sync.Flags().Bool("json", false, "Print the report as JSON")
	addAdminFlags(sync)
	dir.AddCommand(sync)
	return dir
}

func cmdDirectorySync(fl caddycmd.Flags) (int, error) {
	var rep core.SyncReport
	if err := adminCall(fl, http.MethodPost, "/gatehouse/directory/sync", []byte("{}"), &rep); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return caddy.ExitCodeSuccess, enc.Encode(rep)
	}
	fmt.Printf("synchronized with the directory in %s: %s\n", time.Duration(rep.DurationMS)*time.Millisecond, rep.Summary())
	for _, e := range rep.Errors {
		fmt.Printf("error: %s\n", e)
	}
	return caddy.ExitCodeSuccess, nil
}

// directorySync is POST /gatehouse/directory/sync on the admin API.
func (a *adminAPI) directorySync(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
	defer cancel()
	rep, err := a.app.Service().Core().Directory.Sync(ctx, a.app.Service().CLIActor(clientIP(r), r.UserAgent()))
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusOK, rep)
}
