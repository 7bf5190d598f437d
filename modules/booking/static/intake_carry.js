// Carries the matching answers' token into the booking form (see intake/_carry.html).
(function () {
  "use strict";
  var KEY = "daraport.intake_token";
  if (!window.sessionStorage) { return; }
  document.querySelectorAll("[data-intake-token]").forEach(carry);
  function carry(field) {
    var note = field.parentNode.querySelector("[data-intake-note]");
    if (field.value) {
      sessionStorage.setItem(KEY, field.value);
    } else if (sessionStorage.getItem(KEY)) {
      field.value = sessionStorage.getItem(KEY);
      if (note) { note.hidden = false; }
    }
    if (field.form) {
      // once posted, the token is spent: a later booking in this tab does not share the answers
      field.form.addEventListener("submit", function () { sessionStorage.removeItem(KEY); });
    }
  }
})();
