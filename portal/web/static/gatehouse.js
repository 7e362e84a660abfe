// Gatehouse: small enhancements of the portal pages. Every page works
// without it; there is no inline script (the CSP allows only script-src
// 'self'), so this file finds its elements by data attributes:
//
//   [data-copy="#id"]          button: copies the text of #id (an input's
//                              value, a list's items one a line, or the
//                              element's text) to the clipboard
//   [data-download="#id"]      button: saves the same text as a .txt file
//                              named by data-filename
//   time[datetime][data-local] its UTC text becomes the viewer's local time
//                              (data-local="date": the local date only);
//                              the UTC text moves to the title
//   time[datetime][title]      a relative time ("2 hours ago"): its title
//                              becomes the local time
//   #copy-status               the aria-live region that says "Copied"
//
// Copy and download buttons carry the hidden attribute, removed here, so
// that nobody without JavaScript sees buttons that do nothing.
(function () {
  "use strict";

  function textOf(el) {
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") {
      return el.value.trim();
    }
    var items = el.querySelectorAll("li");
    if (items.length) {
      return Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join("\n");
    }
    return el.textContent.trim();
  }

  // say returns the page's translation of a message (the layout's
  // #js-messages), else the English fallback.
  function say(key, fallback) {
    var el = document.getElementById("js-messages");
    return (el && el.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)]) || fallback;
  }

  function announce(msg) {
    var s = document.getElementById("copy-status");
    if (!s) {
      return;
    }
    s.textContent = "";
    window.setTimeout(function () { s.textContent = msg; }, 50);
  }

  // confirmOn shows label on the button (its .btn-label, beside the icon)
  // for two seconds.
  function confirmOn(btn, label) {
    var text = btn.querySelector(".btn-label") || btn;
    if (!btn.hasAttribute("data-label")) {
      btn.setAttribute("data-label", text.textContent);
    }
    text.textContent = label;
    btn.classList.add("is-done");
    window.clearTimeout(btn._gatehouseTimer);
    btn._gatehouseTimer = window.setTimeout(function () {
      text.textContent = btn.getAttribute("data-label");
      btn.classList.remove("is-done");
    }, 2000);
  }

  // legacyCopy copies through a selected, off-screen text area, for
  // browsers without the async clipboard (plain http on a LAN address).
  function legacyCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    ta.remove();
    return ok;
  }

  function copy(btn) {
    var el = document.querySelector(btn.getAttribute("data-copy"));
    if (!el) {
      return;
    }
    var text = textOf(el);
    var done = function (ok) {
      if (ok) {
        confirmOn(btn, say("copied", "Copied"));
        announce(say("copiedLong", "Copied to the clipboard."));
        return;
      }
      if (el.select) {
        el.select();
      }
      announce(say("copyFailed", "Copying did not work here: select the text and copy it yourself."));
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(legacyCopy(text)); });
    } else {
      done(legacyCopy(text));
    }
  }

  function download(btn) {
    var el = document.querySelector(btn.getAttribute("data-download"));
    if (!el) {
      return;
    }
    var name = btn.getAttribute("data-filename") || "gatehouse.txt";
    var blob = new Blob([textOf(el) + "\n"], { type: "text/plain;charset=utf-8" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.className = "offscreen";
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
    confirmOn(btn, say("saved", "Saved"));
    announce(say("savedAs", "Saved as {name}.").replace("{name}", name));
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy], [data-download]");
    if (!btn) {
      return;
    }
    e.preventDefault();
    if (btn.hasAttribute("data-copy")) {
      copy(btn);
    } else {
      download(btn);
    }
  });

  function reveal(root) {
    root.querySelectorAll("[data-copy][hidden], [data-download][hidden]").forEach(function (b) { b.hidden = false; });
  }
  reveal(document);

  // Local times. The date and the time are each kept on one line (no-break
  // spaces), so a narrow table cell wraps only between them.
  // The profile's time zone field suggests the browser's zone when the
  // profile names none. Times are written in the page's language and in
  // the profile's zone (data-tz), else the browser's.
  var zoneField = document.querySelector("input[data-browser-zone]");
  var lang = document.documentElement.lang || undefined;
  var tz = document.body.getAttribute("data-tz") || undefined;
  var day, clock;
  try {
    if (zoneField && !zoneField.value) {
      zoneField.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    }
    day = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", timeZone: tz });
    clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: tz });
  } catch (e) {
    return;
  }
  var nbsp = function (s) { return s.replace(/\s/g, "\u00a0"); };
  var full = { format: function (d) { return nbsp(day.format(d)) + ", " + nbsp(clock.format(d)); } };
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) {
      return;
    }
    var mode = t.getAttribute("data-local");
    if (mode !== null) {
      t.title = t.textContent.trim();
      t.textContent = mode === "date" ? nbsp(day.format(d)) : full.format(d);
    } else if (t.title) {
      t.title = full.format(d);
    }
  });
})();
