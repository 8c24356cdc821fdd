// distillset pages, the shared look: model text shown raw or rendered, long texts expanded,
// Escape closing an open dialog. Event delegation, so content htmx swaps in works too.
(function () {
  "use strict";

  function toggleRaw(button) {
    var rich = button.closest("[data-rich]");
    if (!rich) return;
    var raw = button.getAttribute("aria-pressed") !== "true";
    rich.querySelector("[data-view=rendered]").hidden = raw;
    rich.querySelector("[data-view=raw]").hidden = !raw;
    button.setAttribute("aria-pressed", raw ? "true" : "false");
    button.textContent = raw ? "Formatted" : "Raw text";
  }

  function toggleExpand(button) {
    var rich = button.closest("[data-rich]");
    if (!rich) return;
    var expand = button.getAttribute("aria-expanded") !== "true";
    rich.classList.toggle("collapsed", !expand);
    button.setAttribute("aria-expanded", expand ? "true" : "false");
    button.textContent = expand ? "Show less" : "Show all";
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var raw = target.closest("[data-toggle-raw]");
    if (raw) { toggleRaw(raw); return; }
    var expand = target.closest("[data-expand]");
    if (expand) toggleExpand(expand);
  });

  // A tag of the tree opens its panel from the keyboard as from a click on its label: Enter
  // on the focused row (a summary) sends the label's request too. A plain Event, not a mouse
  // event, so the row does not toggle twice.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.target instanceof Element)) return;
    var summary = event.target.closest("li.node > details > summary");
    if (!summary || summary !== event.target) return;
    var label = summary.querySelector(".label[hx-get]");
    if (label) label.dispatchEvent(new Event("click"));
  });

  // A link to a setting (/settings#answer_model) lands on its field, focused and marked.
  function focusLinkedField() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) return;
    var field = document.getElementById(id);
    if (!field || !field.matches("input, select, textarea")) return;
    // A field in a closed section (an endpoint's Edit) is shown first.
    for (var section = field.closest("details"); section; section = section.parentElement.closest("details")) {
      section.open = true;
    }
    field.scrollIntoView({block: "center"});
    field.focus();
    var label = field.closest("label");
    if (label) label.classList.add("linked");
  }
  document.addEventListener("DOMContentLoaded", focusLinkedField);

  // A modal dialog closes on Escape by itself; one opened without a backdrop (show()) and a
  // menu marked data-closable close here too, handing focus back to what opened them.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("dialog[open]").forEach(function (dialog) { dialog.close(); });
    document.querySelectorAll("details[data-closable][open]").forEach(function (details) {
      details.open = false;
      var summary = details.querySelector("summary");
      if (summary) summary.focus();
    });
  });
})();
