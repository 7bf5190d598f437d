// Next free slots and the waitlist form on a directory profile (see _profile_book.html).
(function () {
  "use strict";
  if (!window.fetch) { return; }
  document.querySelectorAll("[data-next-slots]").forEach(show);
  function show(box) {
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
    fetch(box.dataset.nextSlots + (tz ? "?tz=" + encodeURIComponent(tz) : ""),
          { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { slots: [] }; })
      .then(function (data) {
        var list = box.querySelector(".next-slots");
        data.slots.forEach(function (s) {
          var li = document.createElement("li");
          var a = document.createElement("a");
          a.href = s.url + "&start=" + encodeURIComponent(s.start) + (tz ? "&tz=" + encodeURIComponent(tz) : "");
          var t = document.createElement("time");
          t.dateTime = s.start;
          t.textContent = s.label;
          a.appendChild(t);
          li.appendChild(a);
          list.appendChild(li);
        });
        if (data.slots.length) { box.querySelector(".next-slots-title").hidden = false; }
        var join = box.querySelector(".waitlist-join");
        if (join) {
          var select = join.querySelector("select"), seen = {};
          (data.types || data.slots.map(function (s) {
            return { id: s.appointment_type, name: s.appointment_type_name };
          })).forEach(function (t) {
            if (seen[t.id]) { return; }
            seen[t.id] = true;
            var option = document.createElement("option");
            option.value = t.id;
            option.textContent = t.name;
            select.appendChild(option);
          });
          join.hidden = select.options.length === 0;
        }
      })
      .catch(function () { /* the link still books */ });
  }
})();
