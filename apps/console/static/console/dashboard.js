// The console dashboard: figures pushed over a WebSocket (channels), polled when the
// socket cannot be opened or drops. Charts by Chart.js, served from this project.
(function () {
  "use strict";
  const root = document.getElementById("gateway-dashboard");
  if (!root) return;
  const POLL_MS = 5000;
  let windowName = "24h";
  let socket = null;
  let pollTimer = null;

  const money = (value) => "$" + (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(4));
  const count = (value) => Number(value).toLocaleString("en-US");
  const percent = (value) => (value * 100).toFixed(1) + "%";
  const ms = (value) => (value === null || value === undefined ? "–" : count(value) + " ms");
  const setText = (id, text) => { document.getElementById(id).textContent = text; };

  const traffic = new Chart(document.getElementById("chart-traffic"), {
    type: "line",
    data: { labels: [], datasets: [
      { label: "requests", data: [], borderColor: "#417690", tension: 0.2 },
      { label: "errors", data: [], borderColor: "#ba2121", tension: 0.2 },
      { label: "throttled", data: [], borderColor: "#d6a400", tension: 0.2 },
      { label: "budget refusals", data: [], borderColor: "#7b3294", tension: 0.2 },
    ] },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
  const models = new Chart(document.getElementById("chart-models"), {
    type: "bar",
    data: { labels: [], datasets: [
      { label: "spend ($)", data: [], backgroundColor: "#417690", yAxisID: "spend" },
      { label: "tokens", data: [], backgroundColor: "#79aec8", yAxisID: "tokens" },
    ] },
    options: { animation: false, maintainAspectRatio: false, scales: {
      spend: { position: "left", beginAtZero: true }, tokens: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
    } },
  });

  function bucketLabel(iso) {
    const date = new Date(iso);
    return windowName === "7d" ? date.toISOString().slice(5, 13).replace("T", " ") + "h" : date.toISOString().slice(11, 16);
  }

  function rows(id, items, cells) {
    const body = document.getElementById(id);
    body.replaceChildren(...items.map((item) => {
      const row = document.createElement("tr");
      for (const cell of cells(item)) {
        const td = document.createElement("td");
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
        row.appendChild(td);
      }
      return row;
    }));
  }

  function keyLink(key) {
    if (!key.exists) return key.name;
    const link = document.createElement("a");
    link.href = "/admin/keys/apikey/" + key.id + "/change/";
    link.textContent = key.name;
    return link;
  }

  function teamLink(team) {
    const link = document.createElement("a");
    link.href = team.url;
    link.textContent = team.name;
    return link;
  }

  function show(figures) {
    if (figures.window !== windowName) return;  // an answer for a window no longer shown
    setText("figure-requests", count(figures.totals.requests));
    setText("figure-errors", count(figures.totals.errors));
    setText("figure-throttled", count(figures.totals.throttled));
    setText("figure-budget-refused", count(figures.totals.budget_refused || 0));
    setText("figure-spend", money(figures.totals.spend_usd));
    setText("figure-tokens", count(figures.totals.tokens));
    setText("figure-exact-rate", percent(figures.cache.exact_hit_rate));
    setText("figure-semantic-rate", percent(figures.cache.semantic_hit_rate));
    traffic.data.labels = figures.series.labels.map(bucketLabel);
    traffic.data.datasets[0].data = figures.series.requests;
    traffic.data.datasets[1].data = figures.series.errors;
    traffic.data.datasets[2].data = figures.series.throttled;
    traffic.data.datasets[3].data = figures.series.budget_refused || [];
    traffic.update();
    models.data.labels = figures.models.map((row) => row.model);
    models.data.datasets[0].data = figures.models.map((row) => row.spend_usd);
    models.data.datasets[1].data = figures.models.map((row) => row.tokens);
    models.update();
    rows("table-providers", figures.providers, (p) => [p.provider, count(p.requests), count(p.errors) + " (" + percent(p.error_rate) + ")",
      ms(p.latency_p50_ms), ms(p.latency_p95_ms), p.breaker.replace("_", "-")]);
    rows("table-keys", figures.top_keys, (k) => [keyLink(k), money(k.spend_usd), count(k.requests), count(k.tokens)]);
    const teams = document.getElementById("section-teams");
    teams.hidden = !figures.teams || figures.teams.length === 0;
    if (figures.teams) rows("table-teams", figures.teams, (t) => [teamLink(t), money(t.spend_usd),
      t.budget_usd === null ? "–" : `${money(t.budget_usd)} (${Math.round(100 * t.budget_used)} % used)`]);
    root.dataset.updatedAt = figures.generated_at;
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.url + "?window=" + windowName, { credentials: "same-origin" });
      if (response.ok) show(await response.json());
    } catch (error) { /* the next poll tries again */ }
  }

  function startPolling() {
    setText("live-state", "live (polling every " + POLL_MS / 1000 + " s)");
    root.dataset.live = "polling";
    if (pollTimer === null) { poll(); pollTimer = setInterval(poll, POLL_MS); }
  }

  function connect() {
    if (!("WebSocket" in window)) return startPolling();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onopen = () => {
      clearInterval(pollTimer); pollTimer = null;
      root.dataset.live = "websocket";
      setText("live-state", "live (WebSocket)");
      socket.send(JSON.stringify({ window: windowName }));
    };
    socket.onmessage = (event) => show(JSON.parse(event.data));
    socket.onclose = () => { socket = null; startPolling(); setTimeout(connect, 15000); };
  }

  for (const button of root.querySelectorAll(".window-choice")) {
    button.addEventListener("click", () => {
      windowName = button.dataset.window;
      for (const other of root.querySelectorAll(".window-choice")) other.classList.toggle("selected", other === button);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ window: windowName })); else poll();
    });
  }
  poll();
  connect();
})();
