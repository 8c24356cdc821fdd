// distillset pages: dialogs and live task progress from a server-sent-events stream.
// Everything from the server is set with textContent, never parsed as HTML.
(function () {
  "use strict";

  function openDialogs(root) {
    root.querySelectorAll("[data-open-dialog]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.dataset.openDialog);
        if (dialog) dialog.showModal();
      });
    });
  }

  function setText(box, selector, value) {
    var el = box.querySelector(selector);
    if (el) el.textContent = value;
  }

  function showProgress(box, data) {
    var counters = data.counters || {};
    var planned = 0, settled = 0;
    // The stages the task's kind declares (the server sends them with every message).
    (data.stages || []).forEach(function (stage) {
      var c = counters[stage.name] || {planned: 0, done: 0, failed: 0};
      planned += c.planned || 0;
      settled += (c.done || 0) + (c.failed || 0);
      setText(box, "[data-stage=\"" + stage.name + "\"]", (c.done || 0) + " / " + (c.planned || 0) + " done, " + (c.failed || 0) + " failed");
    });
    var finished = ["succeeded", "failed", "cancelled", "interrupted"].indexOf(data.status) >= 0;
    var ratio = planned ? Math.min(1, settled / planned) : (finished ? 1 : 0);
    var bar = box.querySelector(".bar > span");
    if (bar) bar.style.width = Math.round(ratio * 100) + "%";
    setText(box, "[data-field=percent]", Math.round(ratio * 100) + "%");
    var status = box.querySelector("[data-field=status]");
    if (status) { status.textContent = data.status; status.className = "status-" + data.status; }
    var calls = counters.calls || {};
    setText(box, "[data-field=calls]", String((calls.requests || 0) + (calls.cached || 0)) + " (" + (calls.cached || 0) + " cached, " + (calls.failed || 0) + " failed)");
    var failedTokens = (calls.failed_input_tokens || 0) + (calls.failed_output_tokens || 0);
    setText(box, "[data-field=tokens]", String((calls.input_tokens || 0) + (calls.output_tokens || 0)) + (failedTokens ? " (" + failedTokens + " in failed calls)" : ""));
    // No price on the models: the cost is unknown, not zero (the server sends null).
    setText(box, "[data-field=cost]", calls.cost == null ? "unknown" : "$" + Number(calls.cost).toFixed(4));
    // Requests sent and not answered yet: a stalled endpoint shows here, not as "0 calls".
    var waiting = calls.waiting || 0, longest = Math.round(calls.longest_wait_seconds || 0);
    setText(box, "[data-field=waiting]", waiting ? waiting + " request(s) waiting for the endpoint's reply, the longest for " + longest + " s" + (longest >= 5 ? ": the endpoint has not answered yet" : "") : "");
    setText(box, "[data-field=error]", data.last_error || "");
    var list = box.querySelector(".events");
    if (list && data.events) {
      data.events.forEach(function (event) {
        var item = document.createElement("li");
        item.textContent = event.time + " " + event.message;
        if (event.level !== "info") item.className = "error";
        list.prepend(item);
      });
      while (list.children.length > 50) list.removeChild(list.lastChild);
    }
    var cancel = box.querySelector("[data-cancel]");
    if (cancel) cancel.hidden = finished;
    box.dataset.status = data.status;
  }

  function followTasks(root) {
    root.querySelectorAll("[data-task-stream]").forEach(function (box) {
      if (box.dataset.following) return;
      box.dataset.following = "1";
      var source = new EventSource(box.dataset.taskStream);
      source.addEventListener("progress", function (message) {
        showProgress(box, JSON.parse(message.data));
      });
      source.addEventListener("end", function (message) {
        showProgress(box, JSON.parse(message.data));
        source.close();
      });
      source.onerror = function () {
        // The stream ends when the task finishes; a dropped one reconnects by itself.
        if (!document.body.contains(box)) source.close();
      };
    });
  }

  function wire(root) { openDialogs(root); followTasks(root); }
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:load", function (event) { wire(event.detail.elt); });
})();
