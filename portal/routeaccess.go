package portal

import (
	"context"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// Route access. Every /api/v1 route declares in the route table who may
// call it, and the declaration is what enforces it:
//
//   - s.public(h): anyone, signed in or not (sign-in steps, sign-out,
//     forgotten password); h answers for itself.
//   - s.api("", h): any signed-in caller (401 otherwise; 403 for an
//     expired password or a key that does not allow the call). Finer
//     rules (an app's operators, users.roles for a role change, owners
//     only) are checked inside the service.
//   - s.api(perm, h): a signed-in caller whose role holds perm (403
//     "this needs the perm permission").
//   - s.ownSession(h): a signed-in caller, resolved by h itself because
//     it allows what s.api refuses (an expired password may still be
//     changed; /me and stopping an impersonation answer differently).
//
// A credential route adds its policy outside: s.ownCredential(h).api("")
// checks the policy first, then the access. The handler of an s.api
// route takes its caller from the request (apiDo, routeCaller).
// TestRoutePolicies fails for an /api/v1 route that declares no access.

// Access levels recorded in the route table besides a permission name.
const (
	accessPublic   = "public"
	accessSignedIn = "signed in"
	accessOwn      = "signed in, resolved by the handler"
)

type routeCallerKey struct{}

// api declares and enforces that h needs a signed-in caller holding perm
// ("" for any signed-in caller).
func (s *Service) api(perm policies.Permission, h http.HandlerFunc) policed {
	return policed{svc: s, inner: h, serve: h}.api(perm)
}

// api adds the access rule perm (see Service.api) to p, checked after
// p's route policy.
func (p policed) api(perm policies.Permission) policed {
	p.access = accessSignedIn
	if perm != "" {
		p.access = string(perm)
	}
	next, s := p.inner, p.svc
	p.serve = func(w http.ResponseWriter, r *http.Request) {
		if p.refuse != nil && p.refuse(w, r) {
			return
		}
		var c *caller
		if perm == "" {
			c = s.apiCaller(w, r)
		} else {
			c = s.apiRequire(w, r, perm)
		}
		if c == nil {
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), routeCallerKey{}, c)))
	}
	return p
}

// public declares a route anyone may call.
func (s *Service) public(h http.HandlerFunc) policed {
	return policed{access: accessPublic, inner: h, serve: h}
}

// ownSession declares a route for signed-in callers whose handler
// resolves the caller itself (see accessOwn).
func (s *Service) ownSession(h http.HandlerFunc) policed {
	return policed{access: accessOwn, inner: h, serve: h}
}

// ownSession declares that p's handler resolves its caller itself (see
// accessOwn).
func (p policed) ownSession() policed {
	p.access = accessOwn
	return p
}

// routeCaller is the caller s.api resolved for the request, or nil.
func routeCaller(ctx context.Context) *caller {
	c, _ := ctx.Value(routeCallerKey{}).(*caller)
	return c
}
