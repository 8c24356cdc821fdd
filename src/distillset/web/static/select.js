// Bulk selection on the questions and dataset pages: a header checkbox checks the page's rows.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (!all) return;
    var scope = document.getElementById(all.dataset.selectAll);
    if (!scope) return;
    scope.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (box) { box.checked = all.checked; });
  });
})();
