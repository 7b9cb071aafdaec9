// Live SLA countdowns, the print button, bulk-tagging progress and picking a suggestion's
// alternative in the review form. No inline script anywhere:
// the Content-Security-Policy only allows this file.
(function () {
  "use strict";

  function remaining(ms) {
    const late = ms < 0;
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const parts = (d ? d + "天" : "") + (d || h ? h + "小时" : "") + m + "分" + (d ? "" : s + "秒");
    return late ? "已超时 " + parts : "剩余 " + parts;
  }

  // Count against the server's clock: a browser whose clock is off still shows the right time left.
  const serverNow = Date.parse(document.body.dataset.now);
  const skew = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();

  function tick() {
    const now = Date.now() + skew;
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      const ms = Date.parse(el.dataset.deadline) - now;
      if (Number.isNaN(ms)) return;
      el.textContent = remaining(ms);
      el.classList.toggle("late", ms < 0);
    });
  }

  function pollJobs() {
    const rows = document.querySelectorAll("tr.job[data-status=queued], tr.job[data-status=running]");
    rows.forEach(function (row) {
      fetch("/bulk/" + row.dataset.job + "/status", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) return;
          row.dataset.status = p.status;
          row.querySelector("progress").value = p.share;
          row.querySelector(".rows").textContent = p.rows;
          row.querySelector(".errors").textContent = p.errors;
          row.querySelector(".status").textContent = { queued: "排队中", running: "标注中", done: "已完成", failed: "失败" }[p.status];
          if (p.status === "done") {
            const links = row.querySelector(".links");
            links.textContent = "";
            ["jsonl", "csv"].forEach(function (fmt, i) {
              if (i) links.append(" · ");
              const a = document.createElement("a");
              a.href = "/bulk/" + p.id + "/download?format=" + fmt;
              a.textContent = fmt.toUpperCase();
              links.append(a);
            });
          } else if (p.status === "failed" && p.message) {
            const span = document.createElement("span");
            span.className = "error";
            span.textContent = " " + p.message;
            row.querySelector(".status").after(span);
          }
        })
        .catch(function () { /* the next poll tries again */ });
    });
    if (rows.length) setTimeout(pollJobs, 500);
  }

  // An alternative of a suggestion fills that head of the case's review form and opens it:
  // the person still confirms with the form's button.
  function pickAlternative(button) {
    const decide = document.querySelector('.decide[data-case="' + button.dataset.case + '"]');
    if (!decide) return;
    const select = decide.querySelector('select[name="' + button.dataset.head + '"]');
    if (!select) return;
    select.value = button.dataset.label;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    const details = decide.querySelector("details.correct");
    if (details) details.open = true;
    document.querySelectorAll('button.alt[data-case="' + button.dataset.case + '"][data-head="' +
                              button.dataset.head + '"]').forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", function (event) {
      const button = event.target.closest("button.alt[data-case]");
      if (button) pickAlternative(button);
    });
    tick();
    setInterval(tick, 1000);
    pollJobs();
    const print = document.getElementById("print");
    if (print) print.addEventListener("click", function () { window.print(); });
  });
})();
