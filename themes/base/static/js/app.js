// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Tell the server the browser's time zone once per session, so times show in local time.
  // Only signed-in pages carry the CSRF meta: anonymous pages stay session-free (and cacheable)
  // and show times in the brand's zone.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (tz && meta && !sessionStorage.getItem("daraport-tz")) {
      var body = new URLSearchParams({ timezone: tz, csrf_token: meta.content });
      fetch("/account/timezone", { method: "POST", body: body, credentials: "same-origin" })
        .then(function () { sessionStorage.setItem("daraport-tz", tz); });
    }
  } catch (e) { /* old browsers: the brand's zone is used */ }
})();

// Counts beside navigation links (unread messages...) stay current without a reload: once a
// minute while the page is visible, and at once when it is shown again.
(function () {
  "use strict";
  var nav = document.querySelector("nav[data-badges]");
  if (!nav || !window.fetch) { return; }
  var busy = false;

  function show(badges) {
    var spans = nav.querySelectorAll("[data-nav-badge]");
    for (var i = 0; i < spans.length; i++) {
      var count = badges[spans[i].getAttribute("data-nav-badge")];
      if (typeof count !== "number") { continue; }
      spans[i].firstChild.nodeValue = String(count);
      spans[i].hidden = count <= 0;
    }
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(nav.getAttribute("data-badges"),
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) { if (data && data.badges) { show(data.badges); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, 60000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); }
  });
})();
