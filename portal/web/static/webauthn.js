// Gatehouse: security keys and passkeys (WebAuthn) in the portal pages.
//
// No inline script (the CSP allows only script-src 'self'): this file finds
// its elements by id and data attributes.
//
//   #webauthn-login   login page: "Sign in with a passkey" (data-rd)
//   #webauthn-2fa     two-step page: "Use your security key" (data-rd)
//   #webauthn-add     profile: holds form[data-webauthn-register], to add a
//                     security key or a passkey; its submit buttons carry
//                     data-passkey="true|false"
//
// Each of them holds a [role=alert] element for errors. The JSON API is
// /api/v1/login/webauthn/{begin,finish} and
// /api/v1/me/webauthn/register/{begin,finish}; begin answers the options
// of navigator.credentials.create/get wrapped under "publicKey".
(function () {
  "use strict";

  // base64url <-> ArrayBuffer.
  function toBuffer(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && window.isSecureContext !== false);
  }

  // An IP address cannot be a WebAuthn relying party ID.
  function ipHost() {
    var h = location.hostname;
    return /^[0-9.]+$/.test(h) || h.indexOf(":") >= 0 || h.charAt(0) === "[";
  }

  async function api(path, body) {
    var resp = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    });
    var data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      var err = new Error((data && data.error) || ("request failed (" + resp.status + ")"));
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  function dropNulls(o) {
    Object.keys(o).forEach(function (k) { if (o[k] === null || o[k] === undefined) delete o[k]; });
    return o;
  }

  function creationOptions(data) {
    var pk = Object.assign({}, data.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBuffer(pk.user.id) });
    if (pk.excludeCredentials) {
      pk.excludeCredentials = pk.excludeCredentials.map(function (c) {
        return dropNulls(Object.assign({}, c, { id: toBuffer(c.id) }));
      });
    }
    return dropNulls(pk);
  }

  function requestOptions(data) {
    var pk = Object.assign({}, data.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = pk.allowCredentials.map(function (c) {
        return dropNulls(Object.assign({}, c, { id: toBuffer(c.id) }));
      });
    }
    return dropNulls(pk);
  }

  function extensions(cred) {
    try { return cred.getClientExtensionResults() || {}; } catch (e) { return {}; }
  }

  function attestationJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        attestationObject: toBase64url(r.attestationObject)
      },
      clientExtensionResults: extensions(cred)
    };
    if (typeof r.getTransports === "function") out.response.transports = r.getTransports();
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

  function assertionJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature)
      },
      clientExtensionResults: extensions(cred)
    };
    if (r.userHandle && r.userHandle.byteLength) out.response.userHandle = toBase64url(r.userHandle);
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  }

  // say returns the page's translation of a message (the layout's
  // #js-messages), else the English fallback.
  function say(key, fallback) {
    var el = document.getElementById("js-messages");
    return (el && el.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)]) || fallback;
  }

  // message turns a failure into a sentence for the user.
  function message(err, creating) {
    if (err && err.name === "NotAllowedError") {
      return say("cancelled", "The request was cancelled or timed out. Try again.");
    }
    if (err && err.name === "InvalidStateError" && creating) {
      return say("alreadyRegistered", "This security key is already registered on your account.");
    }
    if (err && err.name === "SecurityError") {
      return say("refused", "This browser refused the request for this address. Security keys need the portal on a domain name over HTTPS.");
    }
    var m = (err && err.message) || say("wentWrong", "Something went wrong. Try again.");
    m = m.charAt(0).toUpperCase() + m.slice(1);
    return /[.!?]$/.test(m) ? m : m + ".";
  }

  function showError(box, text) {
    var alert = box.querySelector("[role=alert]");
    if (!alert) return;
    var p = alert.querySelector("p") || alert.appendChild(document.createElement("p"));
    p.textContent = text;
    // The alert class sets display, which would beat the hidden attribute:
    // it is only put on while there is something to say.
    alert.className = "alert alert-error";
    alert.hidden = false;
  }
  function clearError(box) {
    var alert = box.querySelector("[role=alert]");
    if (alert) {
      alert.hidden = true;
      alert.className = "";
    }
  }

  function busy(box, on) {
    box.querySelectorAll("button").forEach(function (b) {
      b.disabled = on;
      if (on) b.setAttribute("aria-busy", "true"); else b.removeAttribute("aria-busy");
    });
  }

  // safeTarget keeps rd only when it is an absolute http(s) URL or a path
  // of the portal (the server checked it against its allowed targets).
  function safeTarget(rd) {
    if (!rd) return "/";
    if (/^https?:\/\//i.test(rd)) return rd;
    if (rd.charAt(0) === "/" && rd.charAt(1) !== "/" && rd.charAt(1) !== "\\") return rd;
    return "/";
  }

  // signIn runs a key sign-in: passkey (passwordless) or the second step
  // of the pending password sign-in.
  async function signIn(box, passkey) {
    clearError(box);
    if (!supported()) {
      showError(box, say("unsupported", "This browser does not support security keys or passkeys."));
      return;
    }
    busy(box, true);
    try {
      var opts = await api("/api/v1/login/webauthn/begin", passkey ? { passkey: true } : {});
      var cred = await navigator.credentials.get({ publicKey: requestOptions(opts) });
      if (!cred) throw new Error("no credential was chosen");
      await api("/api/v1/login/webauthn/finish", assertionJSON(cred));
      location.assign(safeTarget(box.getAttribute("data-rd")));
    } catch (err) {
      busy(box, false);
      if (err && err.status === 401 && !passkey && /start again/.test(err.message)) {
        location.assign("/login");
        return;
      }
      showError(box, message(err, false));
    }
  }

  // showBackupCodes replaces the add form with the backup codes that come
  // with a first second factor; they are shown only now.
  function showBackupCodes(form, codes) {
    var box = document.createElement("div");
    box.className = "stack";
    box.id = "webauthn-backup-codes";
    var note = document.createElement("div");
    note.className = "alert alert-info";
    note.setAttribute("role", "status");
    var p = document.createElement("p");
    p.textContent = say("keyAddedCodes", "Your key is added and two-factor authentication is on. Keep these backup codes somewhere safe: " +
      "each one signs you in once if you lose your key. They are shown only now.");
    note.appendChild(p);
    var list = document.createElement("ol");
    list.className = "backup-codes mono";
    list.setAttribute("aria-label", say("backupCodes", "Backup codes"));
    codes.forEach(function (c) {
      var li = document.createElement("li");
      li.textContent = c;
      list.appendChild(li);
    });
    var done = document.createElement("button");
    done.type = "button";
    done.className = "btn btn-primary";
    done.id = "backup-codes-done";
    done.textContent = say("savedContinue", "I have saved them — continue");
    done.addEventListener("click", function () { location.reload(); });
    list.id = "webauthn-backup-code-list";
    // Copy and download buttons: gatehouse.js handles their clicks.
    var tools = document.createElement("div");
    tools.className = "copy-row copy-row-codes";
    var copyBtn = document.createElement("button");
    copyBtn.type = "button";
    copyBtn.className = "btn btn-secondary btn-sm btn-copy";
    copyBtn.setAttribute("data-copy", "#webauthn-backup-code-list");
    copyBtn.textContent = say("copy", "Copy");
    var saveBtn = document.createElement("button");
    saveBtn.type = "button";
    saveBtn.className = "btn btn-secondary btn-sm";
    saveBtn.setAttribute("data-download", "#webauthn-backup-code-list");
    saveBtn.setAttribute("data-filename", "gatehouse-backup-codes.txt");
    saveBtn.textContent = say("download", "Download .txt");
    tools.appendChild(copyBtn);
    tools.appendChild(saveBtn);
    box.appendChild(note);
    box.appendChild(list);
    box.appendChild(tools);
    box.appendChild(done);
    form.replaceWith(box);
    done.focus();
  }

  // register adds a key to the signed-in account, then reloads the page.
  async function register(form, passkey) {
    clearError(form);
    busy(form, true);
    try {
      var nameField = form.querySelector("[name=name]");
      var pwField = form.querySelector("[name=current_password]");
      var req = { name: nameField ? nameField.value : "", passkey: passkey };
      if (pwField && pwField.value) req.current_password = pwField.value;
      var opts = await api("/api/v1/me/webauthn/register/begin", req);
      var cred = await navigator.credentials.create({ publicKey: creationOptions(opts) });
      if (!cred) throw new Error("no key was created");
      var added = await api("/api/v1/me/webauthn/register/finish", attestationJSON(cred));
      if (added && added.backup_codes && added.backup_codes.length) {
        showBackupCodes(form, added.backup_codes);
        return;
      }
      location.reload();
    } catch (err) {
      busy(form, false);
      showError(form, message(err, true));
    }
  }

  function init() {
    var login = document.getElementById("webauthn-login");
    if (login && supported() && !ipHost()) {
      login.hidden = false;
      var pb = login.querySelector("[data-webauthn-passkey]");
      if (pb) pb.addEventListener("click", function () { signIn(login, true); });
    }

    var second = document.getElementById("webauthn-2fa");
    if (second) {
      var kb = second.querySelector("[data-webauthn-key]");
      if (kb) kb.addEventListener("click", function () { signIn(second, false); });
    }

    document.querySelectorAll("form[data-webauthn-register]").forEach(function (form) {
      var wrap = form.closest("#webauthn-add") || form;
      var note = document.querySelector("[data-webauthn-unsupported]");
      if (!supported() || ipHost()) {
        if (note) note.hidden = false;
        return;
      }
      wrap.hidden = false;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var btn = ev.submitter || form.querySelector("button[type=submit]");
        register(form, !!btn && btn.getAttribute("data-passkey") === "true");
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
