package oidcprovider

import (
	"context"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatehouse-auth/gatehouse/core"
)

func TestAMRAndACR(t *testing.T) {
	for _, tc := range []struct {
		methods []string
		amr     []string
		acr     string
	}{
		{nil, nil, ""},
		{[]string{core.MethodPassword}, []string{"pwd"}, "pwd"},
		{[]string{core.MethodTempPassword}, []string{"pwd"}, "pwd"},
		{[]string{core.MethodPassword, core.MethodTOTP}, []string{"pwd", "otp", "mfa"}, "mfa"},
		{[]string{core.MethodPassword, core.MethodBackupCode}, []string{"pwd", "otp", "mfa"}, "mfa"},
		{[]string{core.MethodPassword, core.MethodWebAuthn}, []string{"pwd", "hwk", "mfa"}, "mfa"},
		{[]string{core.MethodPasskey}, []string{"hwk"}, "mfa"},
		{[]string{core.MethodPassword, core.MethodPassword}, []string{"pwd"}, "pwd"},
		{[]string{"oidc:google"}, nil, ""},
	} {
		amr := amrOf(tc.methods)
		if !slices.Equal(amr, tc.amr) {
			t.Errorf("amrOf(%v) = %v, want %v", tc.methods, amr, tc.amr)
		}
		if acr := acrOf(amr); acr != tc.acr {
			t.Errorf("acrOf(%v) = %q, want %q", amr, acr, tc.acr)
		}
	}
}

func TestUserinfoClaims(t *testing.T) {
	clk := &clock{t: time.Now()}
	c := testCore(t, testStore(t), clk, nil)
	u, err := c.Users.CreateUser(context.Background(), nil, core.NewUser{Username: "alice", FullName: "Alice Pleasance Liddell",
		Email: "alice@example.com", Role: "user", Groups: []string{"ops", "devs"}, Password: "Corr3ct-horse-battery"})
	if err != nil {
		t.Fatal(err)
	}
	p := testProvider(t, c, jose.ES256, 0)
	for _, tc := range []struct {
		scopes []string
		check  func(ui *oidc.UserInfo) bool
	}{
		{[]string{"openid"}, func(ui *oidc.UserInfo) bool {
			return ui.Subject == u.ID && ui.PreferredUsername == "" && ui.Email == "" && ui.Claims["groups"] == nil
		}},
		{[]string{"openid", "profile"}, func(ui *oidc.UserInfo) bool {
			return ui.PreferredUsername == "alice" && ui.Name == "Alice Pleasance Liddell" && ui.GivenName == "Alice" &&
				ui.FamilyName == "Pleasance Liddell" && ui.Email == ""
		}},
		{[]string{"openid", "email"}, func(ui *oidc.UserInfo) bool {
			return ui.Email == "alice@example.com" && bool(ui.EmailVerified) && ui.PreferredUsername == ""
		}},
		{[]string{"openid", "groups"}, func(ui *oidc.UserInfo) bool {
			g, _ := ui.Claims["groups"].([]string)
			return slices.Equal(g, []string{"devs", "ops"}) || slices.Equal(g, []string{"ops", "devs"})
		}},
	} {
		ui := new(oidc.UserInfo)
		if err := p.userinfo(ui, u.ID, tc.scopes); err != nil || !tc.check(ui) {
			t.Errorf("scopes %v: %+v (%v)", tc.scopes, ui, err)
		}
	}
	// A disabled or unknown user has no claims.
	if err := p.userinfo(new(oidc.UserInfo), "nobody", []string{"openid"}); err == nil {
		t.Error("claims of an unknown user")
	}
}
