// The workbench tree: the selected tag, the per-tag menu (a dialog), the search box, and
// the open nodes named to the server, so a reply that re-renders part of the tree keeps them.
(function () {
  "use strict";

  function select(tagId) {
    document.querySelectorAll(".node .label[aria-current]").forEach(function (label) {
      label.removeAttribute("aria-current");
    });
    var label = document.getElementById("tag-label-" + tagId);
    if (label) label.setAttribute("aria-current", "true");
    return label;
  }

  function inView(el) {
    var box = el.getBoundingClientRect();
    return box.top >= 0 && box.top < window.innerHeight;
  }

  function panelShown(revealed) {
    // A tag's panel arrived: its tree node is the selected one, and both are on screen.
    var panel = document.querySelector("#detail .tag-detail[data-tag-id]");
    if (!panel) return;
    var label = select(panel.dataset.tagId);
    if (revealed && label && !inView(label)) label.scrollIntoView({block: "center"});
    if (!inView(panel)) panel.scrollIntoView({block: "start"});
  }

  // Every request from the workbench names the tree nodes open now: a reply that draws part
  // of the tree again draws them open (the server reads the X-Open-Tags header).
  document.addEventListener("htmx:configRequest", function (event) {
    if (!document.getElementById("children-root")) return;
    var ids = [];
    document.querySelectorAll("li.node > details[open]").forEach(function (details) {
      if (ids.length < 100) ids.push(details.parentElement.dataset.tagId);
    });
    if (ids.length) event.detail.headers["X-Open-Tags"] = ids.join(",");
  });

  function openMenu(button) {
    var dialog = document.getElementById("tag-menu");
    if (!dialog || !window.htmx) return;
    window.htmx.ajax("GET", button.dataset.tagMenu, {target: "#tag-menu-body", swap: "innerHTML"}).then(function () {
      if (!dialog.open) dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), button");
      if (first) first.focus();
    });
  }

  document.addEventListener("click", function (event) {
    var menu = event.target.closest && event.target.closest("[data-tag-menu]");
    if (menu) {
      // Inside a summary: the click opens the menu, it does not fold the node.
      event.preventDefault();
      openMenu(menu);
      return;
    }
    var jump = event.target.closest && event.target.closest(".tag-jump");
    if (jump) jump.dataset.revealing = "1";
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var target = event.target;
    // A leaf's label (a button of its own): opens its panel.
    if (target.matches && target.matches(".leaf-row .label")) {
      event.preventDefault();
      target.click();
      return;
    }
    // A node's summary: folds or unfolds (the browser does) and opens the tag's panel.
    if (target.matches && target.matches("li.node > details > summary") && window.htmx) {
      var label = target.querySelector(".label");
      if (label) window.htmx.ajax("GET", label.getAttribute("hx-get"), {target: "#detail", source: label});
    }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.id === "tag-search") event.preventDefault();
  });
  function typed(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt.matches && elt.matches("form[data-clear-on-success]")) elt._distillsetSent = typed(elt);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail, elt = detail.elt;
    if (!detail.successful) return;
    // Cleared after it was added, unless something else was typed meanwhile.
    if (elt.matches && elt.matches("form[data-clear-on-success]") && elt._distillsetSent === typed(elt)) elt.reset();
    var dialog = document.getElementById("tag-menu");
    if (dialog && dialog.open && dialog.contains(elt)) dialog.close();
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "detail") {
      var elt = event.detail.elt || (event.detail.requestConfig && event.detail.requestConfig.elt);
      var revealed = Boolean(elt && elt.dataset && elt.dataset.revealing) || Boolean(elt && elt.closest && elt.closest("#tag-menu"));
      panelShown(revealed);
    }
  });
})();
