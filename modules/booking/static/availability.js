// Add and remove weekly rows in the browser; without script, empty rows do the same.
document.querySelectorAll(".rule-day").forEach(function (day) {
  var add = day.querySelector("[data-add-row]");
  add.hidden = false;
  add.addEventListener("click", function () {
    var rows = day.querySelectorAll(".rule-row");
    var row = rows[rows.length - 1].cloneNode(true);
    row.classList.remove("has-error");
    row.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
    row.querySelectorAll("input").forEach(function (input) {
      input.value = ""; input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby");
      input.id = input.id + "x";
    });
    row.querySelectorAll("label").forEach(function (l) { l.htmlFor = l.htmlFor + "x"; });
    day.insertBefore(row, add);
    row.querySelector("input").focus();
  });
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-remove-row]");
  if (!button) { return; }
  var row = button.closest(".rule-row");
  if (row.parentNode.querySelectorAll(".rule-row").length > 1) { row.remove(); }
  else { row.querySelectorAll("input").forEach(function (input) { input.value = ""; }); }
});
