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
