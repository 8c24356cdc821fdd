// distillset pages: dialogs, live task progress from a server-sent-events stream, feedback
// while a request is out, and errors beside the control that caused them.
// Everything from the server is set with textContent, never parsed as HTML into the page.
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

  // Counts with thousands separators, as the server renders them (12,345).
  function n(value) { return Number(value || 0).toLocaleString("en-US"); }

  function showProgress(box, data) {
    var counters = data.counters || {};
    var planned = 0, settled = 0;
    // The stages the task's kind declares (the server sends them with every message).
    (data.stages || []).forEach(function (stage) {
      var c = counters[stage.name] || {planned: 0, done: 0, failed: 0};
      planned += c.planned || 0;
      settled += (c.done || 0) + (c.failed || 0);
      setText(box, "[data-stage=\"" + stage.name + "\"]", n(c.done) + " / " + n(c.planned) + " done, " + n(c.failed) + " failed");
    });
    var finished = ["succeeded", "failed", "cancelled", "interrupted"].indexOf(data.status) >= 0;
    var ratio = planned ? Math.min(1, settled / planned) : (finished ? 1 : 0);
    var bar = box.querySelector(".bar > span");
    if (bar) bar.style.width = Math.round(ratio * 100) + "%";
    var meter = box.querySelector("[role=progressbar]");
    if (meter) meter.setAttribute("aria-valuenow", String(Math.round(ratio * 100)));
    setText(box, "[data-field=percent]", Math.round(ratio * 100) + "%");
    var status = box.querySelector("[data-field=status]");
    if (status) { status.textContent = data.status; status.className = "status-" + data.status; }
    var calls = counters.calls || {};
    setText(box, "[data-field=calls]", n((calls.requests || 0) + (calls.cached || 0)) + " (" + n(calls.cached) + " cached, " + n(calls.failed) + " failed)");
    var failedTokens = (calls.failed_input_tokens || 0) + (calls.failed_output_tokens || 0);
    setText(box, "[data-field=tokens]", n((calls.input_tokens || 0) + (calls.output_tokens || 0)) + (failedTokens ? " (" + n(failedTokens) + " in failed calls)" : ""));
    // No price on the models: the cost is unknown, not zero (the server sends null).
    setText(box, "[data-field=cost]", calls.cost == null ? "unknown" : "$" + Number(calls.cost).toFixed(4));
    // A training task's figures (its kind's counters say "training").
    var training = counters.training;
    if (training) {
      var fixed = function (value, digits) { return value == null ? "-" : Number(value).toFixed(digits); };
      setText(box, "[data-field=loss]", fixed(training.loss, 4));
      setText(box, "[data-field=eval-loss]", fixed(training.eval_loss, 4));
      setText(box, "[data-field=throughput]", training.tokens_per_second ? fixed(training.tokens_per_second, 0) : "-");
    }
    // Requests sent and not answered yet: a stalled endpoint shows here, not as "0 calls".
    var waiting = calls.waiting || 0, longest = Math.round(calls.longest_wait_seconds || 0);
    setText(box, "[data-field=waiting]", waiting ? waiting + " request(s) waiting for the endpoint's reply, the longest for " + longest + " s" + (longest >= 5 ? ": the endpoint has not answered yet" : "") : "");
    // Batch mode: the batches, and where their requests stand.
    var b = counters.batches;
    setText(box, "[data-field=batches]", b ? b.batches + " batches (" + (b.open || 0) + " open): requests " + (b.queued || 0) + " queued, " + (b.submitted || 0) + " submitted, " + (b.in_progress || 0) + " in progress, " + (b.done || 0) + " done, " + (b.failed || 0) + " failed" : "");
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
        box.dispatchEvent(new CustomEvent("distillset:task-progress", {bubbles: true}));
      });
      source.addEventListener("end", function (message) {
        showProgress(box, JSON.parse(message.data));
        source.close();
        // What the task changed shows wherever the page counts it (see refreshCounts).
        box.dispatchEvent(new CustomEvent("distillset:task-finished", {bubbles: true}));
      });
      source.onerror = function () {
        // The stream ends when the task finishes; a dropped one reconnects by itself.
        if (!document.body.contains(box)) source.close();
      };
    });
  }

  // The counts of the tree nodes the page has loaded and of the open tag's panel, read
  // again when a task the page follows has finished (the reply swaps them out of band).
  function refreshCounts(event) {
    // While a task runs (progress), only the counts: the open panel's questions stay as read.
    var live = event && event.type === "distillset:task-progress";
    var tree = document.getElementById("children-root");
    if (!tree || !tree.dataset.countsUrl || !window.htmx) return;
    var params = [];
    tree.querySelectorAll("li.node[data-tag-id]").forEach(function (node) {
      if (params.length < 1000) params.push("ids=" + encodeURIComponent(node.dataset.tagId));
    });
    var open = document.querySelector("#detail .tag-detail[data-tag-id]");
    if (open) params.push("tag_id=" + encodeURIComponent(open.dataset.tagId));
    if (!params.length) return;
    if (live) params.push("counts_only=true");
    window.htmx.ajax("GET", tree.dataset.countsUrl + "?" + params.join("&"), {source: tree, swap: "none"});
  }

  // --- Errors: beside the control that caused them, focused, gone at the next action. ---

  function clearErrors() {
    document.querySelectorAll("[data-error-box]").forEach(function (box) { box.remove(); });
    var messages = document.getElementById("messages");
    if (messages) messages.textContent = "";
  }

  function replyText(xhr) {
    // The server answers a refused request with its message as a small HTML fragment.
    var doc = new DOMParser().parseFromString((xhr && xhr.responseText) || "", "text/html");
    var text = (doc.body.textContent || "").trim();
    if (text) return text;
    return xhr && xhr.status ? "The request failed (HTTP " + xhr.status + ")." : "The server did not answer: is it still running?";
  }

  function replyFix(xhr) {
    // A refusal a setting fixes links to it: only a path of this site, rebuilt as text.
    var doc = new DOMParser().parseFromString((xhr && xhr.responseText) || "", "text/html");
    var link = doc.querySelector("a[data-fix]");
    var href = link && link.getAttribute("href");
    if (!href || href.charAt(0) !== "/" || href.charAt(1) === "/") return null;
    return {href: href, text: (link.textContent || "").trim()};
  }

  function showError(elt, text, fix) {
    // After the form that was sent (or the button, outside a form): in its dialog when
    // one is open, never behind it or out of view.
    var anchor = (elt && elt.closest && elt.closest("form")) || elt;
    var box = document.createElement("p");
    box.className = "message error";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    box.dataset.errorBox = "1";
    box.textContent = text;
    if (fix) {
      var link = document.createElement("a");
      link.href = fix.href;
      link.textContent = fix.text;
      link.dataset.fix = "1";
      box.textContent = text.replace(fix.text, "").trim() + " ";
      box.appendChild(link);
    }
    if (anchor && document.body.contains(anchor)) {
      anchor.insertAdjacentElement("afterend", box);
    } else {
      var messages = document.getElementById("messages");
      if (!messages) return;
      messages.replaceChildren(box);
    }
    box.focus();
  }

  function focusServerError(root) {
    // An error the server rendered into the page (a refused filter, a failed answer).
    var error = (root || document).querySelector("[data-focus-error]:not([data-focused])");
    if (!error) return;
    error.dataset.focused = "1";
    error.tabIndex = -1;
    error.focus();
  }

  // --- Feedback while waiting: the control is busy and disabled, its reply's place says so. ---

  function isUserAction(detail) {
    var event = detail.requestConfig && detail.requestConfig.triggeringEvent;
    return Boolean(event && event.isTrusted);
  }

  function markBusy(detail) {
    var elt = detail.elt;
    var controls = elt.tagName === "FORM" ? elt.querySelectorAll("button, input[type=submit]") : (elt.tagName === "BUTTON" ? [elt] : []);
    var disabled = [];
    Array.prototype.forEach.call(controls, function (control) {
      if (!control.disabled) { control.disabled = true; disabled.push(control); }
    });
    elt._distillsetDisabled = disabled;
    elt.setAttribute("aria-busy", "true");
    // Kept here: a refusal's reply names another target (HX-Retarget) than the one marked.
    var target = elt._distillsetTarget = detail.target;
    if (target && target !== elt && target.dataset && target.dataset.busyText) {
      // The old reply is not left on show as if it were the answer to this request.
      var note = document.createElement("p");
      note.className = "working";
      note.setAttribute("role", "status");
      note.textContent = target.dataset.busyText;
      target.replaceChildren(note);
      target.setAttribute("aria-busy", "true");
    }
  }

  function clearBusy(detail) {
    var elt = detail.elt;
    (elt._distillsetDisabled || []).forEach(function (control) { control.disabled = false; });
    elt._distillsetDisabled = [];
    elt.removeAttribute("aria-busy");
    var target = elt._distillsetTarget;
    elt._distillsetTarget = null;
    if (!target || !target.removeAttribute) return;
    target.removeAttribute("aria-busy");
    // No reply took its place (a refusal, a lost connection): the note goes.
    var note = target.querySelector(":scope > p.working");
    if (note) note.remove();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail;
    // Sent once: a second click or Enter while the first is out sends nothing (a form that
    // replaces its own request, hx-sync, is the exception).
    if (detail.elt.getAttribute("aria-busy") === "true" && !detail.elt.hasAttribute("hx-sync")) {
      event.preventDefault();
      return;
    }
    if (isUserAction(detail)) clearErrors();
    markBusy(detail);
  });
  document.addEventListener("htmx:afterRequest", function (event) { clearBusy(event.detail); });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.isError) return;
    detail.shouldSwap = false;
    showError(detail.requestConfig ? detail.requestConfig.elt : detail.elt, replyText(detail.xhr), replyFix(detail.xhr));
  });
  document.addEventListener("htmx:sendError", function (event) {
    showError(event.detail.elt, replyText(null));
  });
  document.addEventListener("htmx:afterSettle", function () { focusServerError(document); });
  document.addEventListener("distillset:task-finished", refreshCounts);
  // Live counts while a task runs: at most one refresh a second.
  var lastLive = 0;
  document.addEventListener("distillset:task-progress", function (event) {
    var now = Date.now();
    if (now - lastLive < 1000) return;
    lastLive = now;
    refreshCounts(event);
  });

  function wire(root) { openDialogs(root); followTasks(root); }
  document.addEventListener("DOMContentLoaded", function () { wire(document); focusServerError(document); });
  document.addEventListener("htmx:load", function (event) { wire(event.detail.elt); });
})();
