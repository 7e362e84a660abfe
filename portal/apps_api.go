package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

func (s adminAPI) apiListApps(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		out := list[AppView]{Items: []AppView{}}
		used := appsLastUse(s.Service)
		for _, a := range s.core.Access.Apps() {
			if c.Can(policies.PermAppsRead) || s.core.Access.IsAppOperator(c.User, a.Name) {
				out.Items = append(out.Items, withLastUse(s.core.Access.AppViewOf(a), used))
			}
		}
		if len(out.Items) == 0 && !c.Can(policies.PermAppsRead) {
			return 0, nil, core.Need(c, policies.PermAppsRead)
		}
		return http.StatusOK, out, nil
	})
}

func (s adminAPI) apiGetApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		a, err := s.core.Access.AppNamed(r.PathValue("app"))
		if err != nil {
			return 0, nil, err
		}
		if !c.Can(policies.PermAppsRead) && !s.core.Access.IsAppOperator(c.User, a.Name) {
			return 0, nil, core.Need(c, policies.PermAppsRead)
		}
		return http.StatusOK, withLastUse(s.core.Access.AppViewOf(a), appsLastUse(s.Service)), nil
	})
}

func (s adminAPI) apiPatchApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in AppAccessInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.core.Access.UpdateAppAccess(c, r.PathValue("app"), in)
		return http.StatusOK, v, err
	})
}

// Apps made through the API (core/apps_edit.go): POST /api/v1/apps,
// POST /api/v1/apps/{app}/oidc/secret, DELETE /api/v1/apps/{app}. A
// client secret is in the answer that makes it, and never again.

func (s appsAPI) apiCreateApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in core.AppSpec
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, secret, err := s.core.Access.CreateApp(c, in)
		if err == nil && v.OIDC != nil {
			v.OIDC.ClientSecret = secret
		}
		return http.StatusCreated, v, err
	})
}

func (s appsAPI) apiRotateAppSecret(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		secret, err := s.core.Access.RotateClientSecret(c, r.PathValue("app"))
		return http.StatusOK, map[string]string{"client_id": r.PathValue("app"), "client_secret": secret}, err
	})
}

func (s appsAPI) apiDeleteApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Access.DeleteApp(c, r.PathValue("app"))
	})
}
