// Conditional questions of a questionnaire (macro conditions_script in intake/_questions.html).
(function () {
  "use strict";
  var me = document.currentScript;
  var form = me && document.getElementById(me.getAttribute("data-form-id"));
  if (!form) { return; }
  var boxes = Array.prototype.slice.call(form.querySelectorAll("[data-show-if]"));
  function chosen(key) {
    var box = document.getElementById("q-" + key);
    if (box && box.hidden) { return []; }
    var picked = form.querySelectorAll('[name="' + key + '"]:checked');
    return Array.prototype.map.call(picked, function (input) { return input.value; });
  }
  function update() {
    boxes.forEach(function (box) {
      var rule = JSON.parse(box.getAttribute("data-show-if"));
      var show = chosen(rule.question).some(function (v) { return rule.any_of.indexOf(v) !== -1; });
      box.hidden = !show;
      box.querySelectorAll("input, textarea, select").forEach(function (el) { el.disabled = !show; });
    });
  }
  boxes.forEach(function (box) {
    var hint = box.querySelector("[data-condition-hint]");
    if (hint) { hint.hidden = true; }
  });
  form.addEventListener("change", update);
  update();
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
