// Countdowns to a round's windows: the server wrote the time left and the moment itself (<time>);
// this keeps the time left current, worded as studio/countdowns.py words it. The list's data-now is
// the server's clock, so a wrong clock on the phone doesn't move the end.
(function () {
  "use strict";
  var UNITS = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];

  function count(number, unit) { return number + " " + unit + (number === 1 ? "" : "s"); }

  function timeLeft(seconds) {
    seconds = Math.floor(seconds);
    if (seconds <= 0) return "now";
    var numbers = UNITS.map(function (unit) {
      var number = Math.floor(seconds / unit[0]);
      seconds -= number * unit[0];
      return number;
    });
    var first = numbers.findIndex(function (number) { return number > 0; });
    var words = [count(numbers[first], UNITS[first][1])];
    if (first + 1 < UNITS.length && numbers[first + 1] > 0) words.push(count(numbers[first + 1], UNITS[first + 1][1]));
    return "in " + words.join(" ");
  }

  function tick() {
    document.querySelectorAll("[data-countdowns]").forEach(function (list) {
      if (!list.dataset.offset) list.dataset.offset = String(Date.parse(list.dataset.now) - Date.now());
      var now = Date.now() + Number(list.dataset.offset);
      list.querySelectorAll("[data-ends]").forEach(function (item) {
        var left = item.querySelector(".countdown-left");
        var text = timeLeft((Date.parse(item.dataset.ends) - now) / 1000);
        if (left && left.textContent !== text) left.textContent = text;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
