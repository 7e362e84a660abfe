package oidcprovider

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"
)

// TestAuthRecordRoundTrip: an auth request read back from the store (on
// another node, say) is the one written, every parameter included.
func TestAuthRecordRoundTrip(t *testing.T) {
	maxAge := uint(300)
	in := authRecord{
		ID: randomID(), Received: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
		Req: oidc.AuthRequest{Scopes: oidc.SpaceDelimitedArray{"openid", "profile"}, ResponseType: oidc.ResponseTypeCode, ClientID: "grafana",
			RedirectURI: "https://app.example/cb", State: "st", Nonce: "n", ResponseMode: oidc.ResponseModeQuery, Display: oidc.DisplayPage,
			Prompt: oidc.SpaceDelimitedArray{"login", "consent"}, MaxAge: &maxAge, UILocales: oidc.Locales{language.French, language.German},
			IDTokenHint: "hint", LoginHint: "alice", ACRValues: oidc.SpaceDelimitedArray{"mfa"}, CodeChallenge: "ch", CodeChallengeMethod: oidc.CodeChallengeMethodS256},
		Challenge: &oidc.CodeChallenge{Challenge: "ch", Method: oidc.CodeChallengeMethodS256},
		UserID:    "u1", AMR: []string{"pwd", "otp", "mfa"}, AuthTime: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC), SessionID: "abcd",
	}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRequest(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.authRecord, in) || !out.done {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out.authRecord, in)
	}
}

func TestIsRandomID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{{randomID(), true}, {"", false}, {randomID()[:42], false}, {randomID()[:42] + ":", false}, {randomID() + "A", false}} {
		if got := isRandomID(tc.s); got != tc.want {
			t.Errorf("isRandomID(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestRequestBudget: requests nobody finishes are bounded at
// maxAuthRequests per window; a request that became a code gives its
// place back, so a busy provider whose users all sign in is never refused;
// the count starts afresh two windows on.
func TestRequestBudget(t *testing.T) {
	var b requestBudget
	now := time.Unix(1_800_000_000, 0)
	for i := range 3 * maxAuthRequests {
		if !b.take(now) {
			t.Fatalf("finished sign-in #%d refused", i+1)
		}
		b.release()
	}
	for i := range maxAuthRequests {
		if !b.take(now) {
			t.Fatalf("unfinished request #%d refused, want %d allowed", i+1, maxAuthRequests)
		}
	}
	if b.take(now) {
		t.Fatal("a request past the budget was allowed")
	}
	b.release()
	if !b.take(now) {
		t.Fatal("a released place was not given back")
	}
	if b.take(now.Add(authRequestLifetime)) {
		t.Fatal("the previous window's requests were forgotten one window on")
	}
	if !b.take(now.Add(2 * authRequestLifetime)) {
		t.Fatal("still refused two windows on")
	}
}
