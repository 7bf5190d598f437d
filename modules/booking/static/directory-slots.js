/* The next free times of every card of a directory page, from one batched request
    (the URL in .next-slots-source), shown in the visitor's own zone and language. */
(function () {
  "use strict";
  var source = document.querySelector(".next-slots-source");
  var cards = document.querySelectorAll(".profile-card[data-specialist]");
  if (!source || !cards.length || !window.fetch) { return; }
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  var format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"
    });
  } catch (e) {
    format = { format: function (d) { return d.toLocaleString(); } };
  }
  var byId = {};
  Array.prototype.forEach.call(cards, function (card) { byId[card.dataset.specialist] = card; });
  var ids = Object.keys(byId);
  var batches = [];
  for (var i = 0; i < ids.length; i += 1000) { batches.push(ids.slice(i, i + 1000)); }
  batches.forEach(function (batch) {
    fetch(source.dataset.url + "?ids=" + batch.join(","),
          { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { book: "", specialists: {} }; })
      .then(function (data) {
        Object.keys(data.specialists).forEach(function (id) {
          var card = byId[id], slots = data.specialists[id];
          if (!card || !slots.length) { return; }
          var box = document.createElement("div");
          box.className = "card-next-slots";
          var title = document.createElement("p");
          title.className = "hint";
          title.textContent = source.dataset.title;
          var list = document.createElement("ul");
          list.className = "tags next-slots";
          box.appendChild(title);
          box.appendChild(list);
          slots.forEach(function (s) {  /* [start (UTC), appointment type id] */
            var start = s[0];
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = data.book.replace("{specialist}", encodeURIComponent(id))
              .replace("{type}", encodeURIComponent(s[1])) +
              "&start=" + encodeURIComponent(start) +
              (tz ? "&tz=" + encodeURIComponent(tz) : "");
            var t = document.createElement("time");
            t.dateTime = start;
            t.textContent = format.format(new Date(start));
            a.appendChild(t);
            li.appendChild(a);
            list.appendChild(li);
          });
          card.appendChild(box);
        });
      })
      .catch(function () { /* each card's profile link still books */ });
  });
})();
