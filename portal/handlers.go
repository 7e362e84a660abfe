package portal

// usersUI is the handlers of the user admin pages and impersonation; it shares the Service.
type usersUI struct{ *Service }

func (s *Service) usersUI() usersUI { return usersUI{s} }

// accessUI is the handlers of the groups, roles, apps, settings, audit and sessions pages; it shares the Service.
type accessUI struct{ *Service }

func (s *Service) accessUI() accessUI { return accessUI{s} }

// adminAPI is the handlers of the JSON API of users, groups, roles, apps, settings and credentials; it shares the Service.
type adminAPI struct{ *Service }

func (s *Service) adminAPI() adminAPI { return adminAPI{s} }

// signInUI is the handlers of signing in: the password, OIDC, owner-link, setup and reset pages and API; it shares the Service.
type signInUI struct{ *Service }

func (s *Service) signInUI() signInUI { return signInUI{s} }

// secondStepUI is the handlers of the second step of signing in: TOTP, backup codes and security keys, and setting one up when 2FA is required; it shares the Service.
type secondStepUI struct{ *Service }

func (s *Service) secondStepUI() secondStepUI { return secondStepUI{s} }

// accountUI is the handlers of one's own account: profile, password, security keys, linked identities and email confirmation; it shares the Service.
type accountUI struct{ *Service }

func (s *Service) accountUI() accountUI { return accountUI{s} }

// appsAPI is the handlers of the JSON API that makes, re-keys and deletes apps (apps_api.go); it shares the Service.
type appsAPI struct{ *Service }

func (s *Service) appsAPI() appsAPI { return appsAPI{s} }

// forwardAuth is the handlers of the forward-auth endpoints other proxies ask (forwardauth.go); it shares the Service.
// It is made in the route table (forwardAuth{s}), not by a method of Service, which adminAPI would inherit.
type forwardAuth struct{ *Service }
