// Secure messaging: new messages appear without a reload, and the navigation's unread badge
// follows. Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var list = document.getElementById("messages");
  var threads = document.querySelector("[data-messaging-unread]");
  var source = list || threads;
  if (!source || !window.fetch) { return; }
  var seconds = parseInt(source.getAttribute("data-poll-seconds"), 10) || 15;
  var busy = false;

  function setBadge(count) {
    var badges = document.querySelectorAll("[data-nav-badge^='messaging']");
    for (var i = 0; i < badges.length; i++) {
      if (count > 0) {
        badges[i].firstChild.nodeValue = String(count);
        badges[i].hidden = false;
      } else {
        badges[i].hidden = true;
      }
    }
  }

  function append(items) {
    var empty = document.getElementById("no-messages");
    if (items.length && empty) { empty.remove(); }
    for (var i = 0; i < items.length; i++) {
      if (document.getElementById("message-" + items[i].id)) { continue; }
      // The fragment is rendered by the server from escaped text (see rendering.py).
      var holder = document.createElement("ol");
      holder.innerHTML = items[i].html;
      while (holder.firstElementChild) { list.appendChild(holder.firstElementChild); }
    }
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    var url = list
      ? list.getAttribute("data-updates") + "?after=" + encodeURIComponent(list.getAttribute("data-after"))
      : threads.getAttribute("data-messaging-unread");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (list && data.messages) {
          append(data.messages);
          list.setAttribute("data-after", String(data.last_id));
        }
        setBadge(data.unread);
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); }
  });
})();
