package core

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/store"
)

const actionUserImport = "user.import"

// exportFields are the columns of a user export, in order.
var exportFields = []string{"id", "username", "email", "fallback_email", "full_name", "role", "groups", "active"}

// importFields are the columns an import reads; username is required.
var importFields = []string{"username", "email", "fallback_email", "full_name", "role", "groups"}

// ExportUser is one user in a JSON export.
type ExportUser struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	FallbackEmail string   `json:"fallback_email"`
	FullName      string   `json:"full_name"`
	Role          string   `json:"role"`
	Groups        []string `json:"groups"`
	Active        bool     `json:"active"`
}

// exportUsers writes every user as CSV (groups joined with ",") or JSON.
func (s *Users) exportUsers(w io.Writer, format string) error {
	var all []ExportUser
	now := s.now()
	if err := s.EachUser(func(u *store.User) {
		g := u.Groups
		if g == nil {
			g = []string{}
		}
		all = append(all, ExportUser{ID: u.ID, Username: u.Username, Email: u.Email, FallbackEmail: u.FallbackEmail,
			FullName: u.FullName, Role: u.Role, Groups: g, Active: UserActive(u, now)})
	}); err != nil {
		return err
	}
	if format == "json" {
		if all == nil {
			all = []ExportUser{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(exportFields)
	for _, u := range all {
		_ = cw.Write([]string{u.ID, u.Username, u.Email, u.FallbackEmail, u.FullName, u.Role,
			strings.Join(u.Groups, ","), strconv.FormatBool(u.Active)})
	}
	cw.Flush()
	return cw.Error()
}

// ImportRow is one user to import.
type ImportRow struct {
	Username      string `json:"username"`
	Email         string `json:"email"`
	FallbackEmail string `json:"fallback_email"`
	FullName      string `json:"full_name"`
	Role          string `json:"role"`
	// Groups is a list in JSON; in CSV one cell with names separated by
	// commas, semicolons or spaces.
	Groups []string `json:"groups"`
}

// ImportProblem is a bad row: Row counts from 1 for the first user (in CSV
// the header is row 1 and the first user row 2, as a spreadsheet shows).
type ImportProblem struct {
	Row   int    `json:"row"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// ImportResult reports an import. Nothing is created when Problems is not
// empty or DryRun is set.
type ImportResult struct {
	DryRun   bool            `json:"dry_run"`
	Valid    int             `json:"valid"`
	Created  []ImportedUser  `json:"created"`
	Problems []ImportProblem `json:"problems"`
}

// ImportedUser is a created account and the link its owner uses to set a
// password.
type ImportedUser struct {
	Username string `json:"username"`
	Link     string `json:"link"`
}

// ParseImport reads CSV (with a header naming the columns, in any order) or
// a JSON array. rowBase is the row number of the first user.
func ParseImport(data []byte, format string) (rows []ImportRow, rowBase int, err error) {
	if format == "" {
		format = "csv"
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
			format = "json"
		}
	}
	switch format {
	case "json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows); err != nil {
			return nil, 0, Input("", "bad JSON import (an array of users with fields %s): %v", strings.Join(importFields, ", "), err)
		}
		return rows, 1, nil
	case "csv":
	default:
		return nil, 0, Input("format", "must be csv or json")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	records, err := cr.ReadAll()
	if err != nil {
		return nil, 0, Input("", "bad CSV: %v", err)
	}
	if len(records) == 0 {
		return nil, 0, Input("", "the CSV is empty: it needs a header row naming the columns (%s)", strings.Join(importFields, ","))
	}
	col := map[string]int{}
	for i, h := range records[0] {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h == "id" || h == "active" {
			continue // columns of an export, ignored on import
		}
		if !slices.Contains(importFields, h) {
			return nil, 0, Input("", "row 1: unknown column %q (columns: %s)", h, strings.Join(importFields, ","))
		}
		col[h] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, 0, Input("", "row 1: the header has no username column")
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for _, rec := range records[1:] {
		rows = append(rows, ImportRow{
			Username: cell(rec, "username"), Email: cell(rec, "email"), FallbackEmail: cell(rec, "fallback_email"),
			FullName: cell(rec, "full_name"), Role: cell(rec, "role"),
			Groups: strings.FieldsFunc(cell(rec, "groups"), func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }),
		})
	}
	return rows, 2, nil
}

// ImportRows validates every row first (including duplicates within the
// file and against existing accounts); if any row is bad nothing is
// created. Otherwise each user is created without a password and gets a
// link to set one.
func (s *Users) ImportRows(ctx context.Context, c *Actor, rows []ImportRow, rowBase int, dryRun bool) (ImportResult, error) {
	res := ImportResult{DryRun: dryRun, Created: []ImportedUser{}, Problems: []ImportProblem{}}
	if len(rows) == 0 {
		return res, Input("", "nothing to import")
	}
	if len(rows) > 10000 {
		return res, Input("", "at most 10000 users per import")
	}
	valid := make([]*store.User, len(rows))
	seenName, seenEmail := map[string]int{}, map[string]int{}
	for i, row := range rows {
		n := rowBase + i
		bad := func(err error) {
			p := ImportProblem{Row: n, Error: err.Error()}
			var ie *InputError
			if errors.As(err, &ie) {
				p.Field, p.Error = ie.Field, ie.Msg
			}
			res.Problems = append(res.Problems, p)
		}
		nu := NewUser{Username: row.Username, Email: row.Email, FallbackEmail: row.FallbackEmail, FullName: row.FullName,
			Role: row.Role, Groups: row.Groups}
		if nu.Role == "" {
			nu.Role = "user"
		}
		u, err := s.ValidateNew(nu, true)
		if err != nil {
			bad(err)
			continue
		}
		if err := s.CheckAssign(c, u.Role); err != nil {
			bad(&InputError{Field: "role", Msg: err.Error()})
			continue
		}
		if first, dup := seenName[u.Username]; dup {
			bad(Input("username", "%q is also on row %d", u.Username, first))
			continue
		}
		seenName[u.Username] = n
		if _, err := s.store.UserByUsername(u.Username); err == nil {
			bad(Input("username", "%q is already taken", u.Username))
			continue
		}
		if u.Email != "" {
			key := strings.ToLower(u.Email)
			if first, dup := seenEmail[key]; dup {
				bad(Input("email", "%q is also on row %d", u.Email, first))
				continue
			}
			seenEmail[key] = n
			if _, err := s.store.UserByEmail(u.Email); err == nil {
				bad(Input("email", "%q is already used by another account", u.Email))
				continue
			}
		}
		valid[i] = u
	}
	res.Valid = len(rows) - len(res.Problems)
	if len(res.Problems) > 0 || dryRun {
		return res, nil
	}
	for _, u := range valid {
		created, err := s.CreateValidated(ctx, c, c.User.Username, u, "")
		if err != nil {
			return res, fmt.Errorf("import stopped after %d users at %q: %w", len(res.Created), u.Username, err)
		}
		link, err := s.Credentials.issueReset(ctx, c, created, true, c)
		if err != nil {
			return res, err
		}
		res.Created = append(res.Created, ImportedUser{Username: created.Username, Link: link})
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionUserImport, Resource: "users", Outcome: OutcomeSuccess,
		Reason: strconv.Itoa(len(res.Created)) + " users"})
	return res, nil
}

// ExportUsers writes every user as "csv" or "json" (for the CLI).
func (s *Users) ExportUsers(w io.Writer, format string) error {
	if format != "csv" && format != "json" {
		return Input("format", "must be csv or json")
	}
	return s.exportUsers(w, format)
}

// ImportUsers imports users from CSV or JSON data (format "" guesses) on
// behalf of the local administrator (the CLI through Caddy's admin API),
// who may give any role. r, when not nil, is the request, for the audit log.
func (s *Users) ImportUsers(ctx context.Context, a *Actor, data []byte, format string, dryRun bool) (ImportResult, error) {
	rows, base, err := ParseImport(data, format)
	if err != nil {
		return ImportResult{}, err
	}
	return s.ImportRows(ctx, a, rows, base, dryRun)
}
