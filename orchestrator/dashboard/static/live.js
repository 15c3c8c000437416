// Live updates without a reload: poll the hash of refs/lanewarden and, when it moves, swap in the
// page's main content fetched again (?partial=1). Forms and typing are left alone while focused.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var badge = document.getElementById("live");
  var state = document.body.getAttribute("data-state");
  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA");
  }
  function refresh(next) {
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    url.searchParams.delete("msg");
    fetch(url.toString(), {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.text();
    }).then(function (text) {
      main.innerHTML = text;
      state = next;
      document.body.setAttribute("data-state", next);
      if (badge) { badge.className = "live fresh"; setTimeout(function () { badge.className = "live"; }, 1500); }
    }).catch(function () { if (badge) { badge.className = "live off"; } });
  }
  function poll() {
    fetch("/state", {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      if (badge) { badge.className = badge.className.replace(" off", ""); }
      if (d.state !== state && !busy()) { refresh(d.state); }
    }).catch(function () { if (badge) { badge.className = "live off"; } });
  }
  setInterval(poll, 1500);
}());
