package mail

import (
	"encoding/json"
	"testing"
	"time"
)

func TestValidateRejects(t *testing.T) {
	good := Config{Host: "smtp.example.com", From: "Gatehouse <noreply@example.com>"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no host", func(c *Config) { c.Host = "" },
			"mail: host is required"},
		{"host with port", func(c *Config) { c.Host = "smtp.example.com:587" },
			`mail: host "smtp.example.com:587" must not include a port; set port instead`},
		{"bracketed IPv6 host", func(c *Config) { c.Host = "[::1]" },
			`mail: host "[::1]" is not a valid host name`},
		{"host with space", func(c *Config) { c.Host = "smtp example.com" },
			`mail: host "smtp example.com" is not a valid host name`},
		{"unix socket host", func(c *Config) { c.Host = "unix:///run/smtp.sock" },
			`mail: host "unix:///run/smtp.sock" is not a valid host name`},
		{"port too big", func(c *Config) { c.Port = 70000 },
			"mail: port 70000 out of range (1-65535)"},
		{"negative port", func(c *Config) { c.Port = -1 },
			"mail: port -1 out of range (1-65535)"},
		{"unknown tls mode", func(c *Config) { c.TLS = "x" },
			`mail: tls must be one of starttls, tls, none, got "x"`},
		{"tls mode is case-sensitive", func(c *Config) { c.TLS = "STARTTLS" },
			`mail: tls must be one of starttls, tls, none, got "STARTTLS"`},
		{"username without password", func(c *Config) { c.Username = "gate" },
			`mail: username "gate" is set but password is empty`},
		{"password without username", func(c *Config) { c.Password = "secret" },
			"mail: password is set but username is empty"},
		{"credentials in clear text to a remote host", func(c *Config) { c.Username, c.Password, c.TLS = "gate", "secret", "none" },
			`mail: tls "none" would send the password in clear text to smtp.example.com; use starttls or tls, or a relay on localhost`},
		{"no from", func(c *Config) { c.From = "" },
			"mail: from is required"},
		{"from without domain", func(c *Config) { c.From = "x" },
			`mail: from "x": not a valid address`},
		{"from with two addresses", func(c *Config) { c.From = "a@example.com, b@example.com" },
			`mail: from "a@example.com, b@example.com": not a valid address`},
		{"from with a line break", func(c *Config) { c.From = "a@example.com\r\nBcc: victim@example.com" },
			`mail: from "a@example.com\r\nBcc: victim@example.com": not a valid address`},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second },
			"mail: timeout -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Validate() = %q\nwant         %q", err, tt.want)
			}
			if s, err := New(c); err == nil || s != nil {
				t.Errorf("New() = %v, %v; want nil and an error", s, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"minimal", Config{Host: "smtp.example.com", From: "noreply@example.com"}},
		{"display name", Config{Host: "smtp.example.com", From: `"Gatehouse, Inc." <noreply@example.com>`}},
		{"full starttls", Config{Host: "smtp.example.com", Port: 2525, Username: "u", Password: "p",
			From: "noreply@example.com", TLS: "starttls", Timeout: time.Minute}},
		{"implicit tls", Config{Host: "smtp.example.com", TLS: "tls", Username: "u", Password: "p", From: "a@example.com"}},
		{"plain localhost relay", Config{Host: "localhost", TLS: "none", From: "a@example.com"}},
		{"credentials to loopback relay", Config{Host: "127.0.0.1", TLS: "none", Username: "u", Password: "p", From: "a@example.com"}},
		{"credentials to IPv6 loopback", Config{Host: "::1", TLS: "none", Username: "u", Password: "p", From: "a@example.com"}},
		{"IP host", Config{Host: "192.0.2.10", From: "a@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		tls      string
		port     int
		wantTLS  string
		wantPort int
	}{
		{"", 0, "starttls", 587},
		{"starttls", 0, "starttls", 587},
		{"tls", 0, "tls", 465},
		{"none", 0, "none", 25},
		{"tls", 2465, "tls", 2465},
	}
	for _, tt := range tests {
		s, err := New(Config{Host: "localhost", From: "a@example.com", TLS: tt.tls, Port: tt.port})
		if err != nil {
			t.Fatal(err)
		}
		if s.cfg.TLS != tt.wantTLS || s.cfg.Port != tt.wantPort || s.cfg.Timeout != DefaultTimeout {
			t.Errorf("tls %q port %d: got tls %q port %d timeout %v, want %q %d %v",
				tt.tls, tt.port, s.cfg.TLS, s.cfg.Port, s.cfg.Timeout, tt.wantTLS, tt.wantPort, DefaultTimeout)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	in := `{"host":"smtp.example.com","port":465,"username":"u","password":"p",
		"from":"Gatehouse <noreply@example.com>","tls":"tls","timeout":5000000000}`
	var c Config
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := Config{Host: "smtp.example.com", Port: 465, Username: "u", Password: "p",
		From: "Gatehouse <noreply@example.com>", TLS: "tls", Timeout: 5 * time.Second}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	out, err := json.Marshal(Config{Host: "h", From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"host":"h","from":"a@example.com"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}
