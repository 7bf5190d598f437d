// "Book" keeps the answers' token in this tab (never in a URL) for the booking form to post.
// The token comes from the data-intake-token attribute of this script's own tag.
(function () {
  "use strict";
  var me = document.currentScript;
  var token = me && me.getAttribute("data-intake-token");
  if (!token) { return; }
  document.querySelectorAll("[data-intake-book]").forEach(function (link) {
    link.addEventListener("click", function () {
      try { sessionStorage.setItem("daraport.intake_token", token); } catch (e) { /* private mode */ }
    });
  });
})();
