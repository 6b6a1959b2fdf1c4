// The create form's model select and LoRA picker: with more than one model on offer, the picker lists
// each model's LoRAs under that model's name (an optgroup); only the chosen model's group can be picked.
// Without this script every group shows, and the server refuses a LoRA of another model's family.
(function () {
  "use strict";

  function fitLoras(form) {
    var model = form.querySelector("select[name=model]");
    var lora = form.querySelector("select[name=lora]");
    if (!model || !lora || model.selectedIndex < 0) return;
    var chosen = model.options[model.selectedIndex].text;
    var picked = lora.value;
    var keep = false;
    lora.querySelectorAll("optgroup").forEach(function (group) {
      var mine = group.label === chosen;
      group.hidden = group.disabled = !mine;
      group.querySelectorAll("option").forEach(function (option) {
        // The same LoRA may be listed under two models of one family: keep it picked under the chosen one.
        if (mine && option.value === picked && !keep) {
          option.selected = keep = true;
        }
      });
    });
    if (picked && !keep) lora.value = "";
  }

  function fitAll(root) {
    (root || document).querySelectorAll("form").forEach(fitLoras);
  }

  document.addEventListener("change", function (evt) {
    if (evt.target.matches("select[name=model]")) fitLoras(evt.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    fitAll(document);
  });
  // The form comes back as a fragment when a refusal is shown in it.
  document.addEventListener("htmx:load", function (evt) {
    fitAll(evt.detail.elt.parentNode || document);
  });
})();
