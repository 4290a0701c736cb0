// Sandbox stand-in of the Missing Table SPA (contract §2): plain JavaScript, no build step.
//
// It renders the testids, texts and table layout the real Vue app renders, and calls the API on its
// own origin in the same order the real app does: login then /api/auth/me; the footer's /api/version;
// the standings look-ups then /api/table on every filter change; the Add Match form's unauthenticated
// /api/check-match (401 = no duplicate), /api/csrf-token before the first write, then POST /api/matches.
// Auth lives in localStorage (auth_token, refresh_token, token_expires_at, auth_profile), and
// /api/matches/live is polled every 30 s, so the network never goes idle (as in production).
//
// The noise the real app makes on every healthy page load (contract §2.8), always on:
//   - plugins/security.js adds a CSP <meta> at run time that includes frame-ancestors, which Chromium reports as
//     a console error ("... 'frame-ancestors' is ignored when delivered via a <meta> element.");
//   - utils/security-monitor.js logs "Security event detected" warnings and POSTs each one to
//     /api/security/client-events, a route the backend does not have: 404, one to three times per page;
//   - the PWA registers a service worker (Playwright blocks it and says so);
//   - index.html loads Google Fonts (third-party; offline it cannot resolve);
//   - the Add Match form's duplicate check is sent without a token: 401, "Error checking for duplicate match".
//
// Frontend faults come from window.__SANDBOX__.faults (injected by sandbox/app.py):
//   js-error-on-load         an uncaught error right after start-up (the app keeps working)
//   console-error-unlisted   a first-party console error that no allow-list entry matches
//   footer-wrong-version     the footer shows another version than /api/version
//   api-error-banner         the API error banner is shown although the API answers
//   standings-rows-disagree  the first standings row shows other points than /api/table

const FAULTS = new Set((window.__SANDBOX__ && window.__SANDBOX__.faults) || []);
const AUTH_KEYS = ["auth_token", "refresh_token", "token_expires_at", "auth_profile"];
const LIVE_POLL_MS = 30000;
const TEAM_ROLES = new Set(["team-manager", "team_manager", "team-player", "team_player", "team-fan", "team_fan"]);
const MATCH_WRITERS = new Set(["admin", "club_manager", "team-manager", "team_manager"]);

// -- tiny DOM helper: text is always set as text, never parsed as HTML ------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "testid") el.setAttribute("data-testid", value);
    else if (key === "value") el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function replace(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// -- API ------------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

async function api(path, { method = "GET", body, auth = true, headers = {} } = {}) {
  const hdrs = { ...headers };
  if (auth && state.token) hdrs.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) hdrs["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers: hdrs, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) throw new HttpError(resp.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

// -- state ----------------------------------------------------------------------------------------

const state = {
  token: localStorage.getItem("auth_token"),
  profile: readProfile(),
  busy: false,
  tab: "table",
  loginOpen: false,
  loginBusy: false,
  loginError: null,
  dropdownOpen: false,
  version: null,        // null while loading, "Unknown" on failure
  versionFailed: false,
  bannerDismissed: false,
  csrfToken: null,
};

function readProfile() {
  try { return JSON.parse(localStorage.getItem("auth_profile") || "null"); } catch { return null; }
}

function signedIn() { return Boolean(state.token && state.profile); }

function saveSession(login) {
  localStorage.setItem("auth_token", login.access_token);
  localStorage.setItem("refresh_token", login.refresh_token);
  localStorage.setItem("token_expires_at", String(login.expires_at));
  state.token = login.access_token;
}

function clearSession() {
  for (const key of AUTH_KEYS) localStorage.removeItem(key);
  state.token = null;
  state.profile = null;
  state.csrfToken = null;
  state.dropdownOpen = false;
  state.tab = "table";
}

function roleLabel(profile) {
  const role = profile.role || "";
  if (role === "admin") return "Admin";
  if (role === "team-manager" || role === "team_manager") return "Manager";
  if (role === "club_manager") return profile.club && profile.club.name ? `${profile.club.name} Manager` : "Club Manager";
  if (TEAM_ROLES.has(role) && profile.team && profile.team.name) return profile.team.name;
  return role;
}

// -- layout ---------------------------------------------------------------------------------------

const root = document.getElementById("app");
const navEl = h("nav", { testid: "main-nav" });
const mainEl = h("main");
const footerEl = h("footer");
const bannerEl = h("div");
const modalEl = h("div");
root.append(navEl, mainEl, footerEl, bannerEl, modalEl);

function render() {
  renderNav();
  renderMain();
  renderFooter();
  renderModal();
}

function renderNav() {
  const right = [];
  if (signedIn()) {
    right.push(h("div", { testid: "user-menu" },
      h("button", { testid: "user-dropdown", type: "button", onclick: () => { state.dropdownOpen = !state.dropdownOpen; renderNav(); } },
        h("span", { testid: "user-name" }, state.profile.display_name || "User"),
        h("span", { testid: "user-role" }, roleLabel(state.profile))),
      state.dropdownOpen && h("div", { testid: "dropdown-menu" },
        h("button", { testid: "logout-button", type: "button", onclick: logout }, "Logout"))));
  } else {
    right.push(h("button", { testid: "nav-login-button", type: "button", onclick: openLogin }, "Login"));
  }
  replace(navEl,
    state.busy && h("div", { testid: "loading-bar" }),
    h("span", { testid: "nav-brand" }, "Missing Table"),
    h("span", { class: "spacer" }),
    h("button", { testid: "theme-toggle", type: "button", title: "Toggle theme" }, "◐"),
    right);
}

function renderMain() {
  if (!signedIn()) {
    replace(mainEl, h("section", { class: "hero" },
      h("h1", {}, "The table you've been missing."),
      h("p", {}, "Standings, schedules and results for youth soccer."),
      h("button", { type: "button" }, "Request Invite"),
      h("button", { type: "button", onclick: openLogin }, "Login"),
      h("div", { class: "landing-preview" }, "Preview: your league table, live scores and match schedules.")));
    return;
  }
  const role = state.profile.role || "";
  const tabs = [["table", "Table"], ["matches", "Matches"], ["tournaments", "Tournaments"], ["qop", "QoP"],
    ["profile", "Profile"]];
  if (MATCH_WRITERS.has(role)) tabs.push(["add-match", "Add Match"]);
  if (TEAM_ROLES.has(role)) tabs.push(["my-club", "My Club"]);
  if (role === "admin") tabs.push(["admin", "Admin"]);
  if (role === "club_manager") tabs.push(["admin", "Manage Club"]);
  const content = h("div", { class: "tab-content" });
  replace(mainEl,
    h("nav", { "aria-label": "Tabs" }, tabs.map(([id, label]) =>
      h("button", { type: "button", class: state.tab === id ? "active" : "", onclick: () => { state.tab = id; renderMain(); } }, label))),
    content);
  if (state.tab === "table") LeagueTable(content);
  else if (state.tab === "add-match") MatchForm(content);
  else if (state.tab === "profile") {
    replace(content, h("section", {}, h("h2", {}, "Profile"),
      h("p", {}, `Username: ${state.profile.username || ""}`),
      h("p", {}, `Team: ${(state.profile.team && state.profile.team.name) || "none"}`)));
  } else replace(content, h("section", {}, h("h2", {}, tabs.find(([id]) => id === state.tab)[1]), h("p", {}, "Nothing to show yet.")));
}

// -- login ----------------------------------------------------------------------------------------

function openLogin() {
  state.loginOpen = true;
  state.loginError = null;
  renderModal();
}

function closeLogin() {
  state.loginOpen = false;
  renderModal();
}

function renderModal() {
  if (!state.loginOpen) { replace(modalEl); return; }
  const form = h("form", { class: "login-form", onsubmit: submitLogin },
    h("h2", {}, "Login"),
    h("label", { for: "username" }, "Username",
      h("input", { id: "username", testid: "username-input", name: "username", type: "text", required: true,
        pattern: "[a-zA-Z0-9_]{3,50}", autocomplete: "username" })),
    h("label", { for: "password" }, "Password",
      h("input", { id: "password", testid: "password-input", name: "password", type: "password", required: true,
        minlength: "6", autocomplete: "current-password" })),
    state.loginError && h("div", { testid: "error-message" }, state.loginError),
    h("button", { type: "submit", testid: "login-button", disabled: state.loginBusy }, state.loginBusy ? "Processing..." : "Login"),
    h("button", { type: "button", testid: "google-login-button" }, "Continue with Google"),
    h("p", {}, h("a", { href: "#", testid: "forgot-password-link" }, "Forgot password?"), " ",
      h("a", { href: "#", testid: "signup-link" }, "Have an invite? Sign up")));
  replace(modalEl, h("div", { class: "modal-overlay" },
    h("div", { class: "modal-content" },
      h("button", { type: "button", class: "modal-close", onclick: closeLogin, "aria-label": "Close" }, "×"),
      state.loginError && h("div", { class: "error-banner" }, state.loginError),
      form)));
}

async function submitLogin(event) {
  event.preventDefault();
  const form = event.target;
  const username = form.querySelector("#username").value;
  const password = form.querySelector("#password").value;
  setLoginBusy(form, true);
  try {
    const login = await api("/api/auth/login", { method: "POST", body: { username, password }, auth: false });
    saveSession(login);
    const me = await api("/api/auth/me");
    state.profile = me.user.profile;
    localStorage.setItem("auth_profile", JSON.stringify(state.profile));
    state.loginOpen = false;
    state.loginBusy = false;
    state.tab = "table";
    render();
  } catch (err) {
    if (!state.profile) clearSession();
    state.loginBusy = false;
    state.loginError = err instanceof HttpError ? String(err.detail) : "Login failed";
    renderModal();
  }
}

function setLoginBusy(form, busy) {
  state.loginBusy = busy;
  const button = form.querySelector('[data-testid="login-button"]');
  button.disabled = busy;
  button.textContent = busy ? "Processing..." : "Login";
}

async function logout() {
  try { await api("/api/auth/logout", { method: "POST" }); } catch { /* logged out locally either way */ }
  if (FAULTS.has("logout-broken")) return; // fault: the session stays in place
  clearSession();
  render();
}

async function restoreSession() {
  if (!state.token) return;
  state.busy = true;
  renderNav();
  try {
    const me = await api("/api/auth/me");
    state.profile = me.user.profile;
    localStorage.setItem("auth_profile", JSON.stringify(state.profile));
  } catch (err) {
    if (!(await refreshSession())) clearSession();
  }
  state.busy = false;
  render();
}

async function refreshSession() {
  const refreshToken = localStorage.getItem("refresh_token");
  if (!refreshToken) return false;
  try {
    const data = await api("/api/auth/refresh", { method: "POST", body: { refresh_token: refreshToken }, auth: false });
    saveSession({ ...data.session, access_token: data.session.access_token });
    const me = await api("/api/auth/me");
    state.profile = me.user.profile;
    localStorage.setItem("auth_profile", JSON.stringify(state.profile));
    return true;
  } catch {
    return false;
  }
}

// -- standings (LeagueTable) ------------------------------------------------------------------------

const SORTS = [["played", "GP"], ["wins", "W"], ["draws", "D"], ["losses", "L"], ["goals-for", "GF", true],
  ["goals-against", "GA", true], ["goal-difference", "GD", true], ["points", "Pts"]];

async function LeagueTable(container) {
  const view = { ageGroups: [], leagues: [], seasons: [], divisions: [], teams: [], ageGroupId: null, leagueId: null,
    divisionId: null, seasonId: null, loading: true, error: null, table: null };
  const filters = h("div", { class: "filters" });
  const body = h("div");
  replace(container, h("section", {}, filters, body));

  const draw = () => {
    const divisions = view.divisions.filter((d) => d.league_id === view.leagueId);
    replace(filters,
      h("div", { testid: "age-group-filter" }, view.ageGroups.map((ag) =>
        h("button", { type: "button", testid: `age-group-${ag.name}`, class: ag.id === view.ageGroupId ? "active" : "",
          onclick: () => { view.ageGroupId = ag.id; draw(); load(); } }, ag.name))),
      h("div", { class: "league-filter" }, view.leagues.map((l) =>
        h("button", { type: "button", class: l.id === view.leagueId ? "active" : "",
          onclick: () => {
            view.leagueId = l.id;
            const first = view.divisions.find((d) => d.league_id === l.id);
            view.divisionId = first ? first.id : null;
            draw(); load();
          } }, l.name))),
      h("select", { testid: "season-filter", onchange: (e) => { view.seasonId = Number(e.target.value); load(); } },
        view.seasons.map((s) => h("option", { value: String(s.id), selected: s.id === view.seasonId },
          `${s.name} (${s.start_date.slice(0, 4)}-${s.end_date.slice(0, 4)})`))),
      h("select", { testid: "division-filter", onchange: (e) => { view.divisionId = Number(e.target.value); load(); } },
        divisions.map((d) => h("option", { value: String(d.id), selected: d.id === view.divisionId }, d.name))));
    drawBody();
  };

  const drawBody = () => {
    const parts = [];
    if (view.error) parts.push(h("div", { testid: "error-message" }, `Error: ${view.error}`));
    if (view.loading) parts.push(h("div", { testid: "loading-indicator" }, "Loading table data..."));
    else if (view.table) parts.push(standingsTable(view.table));
    replace(body, parts);
  };

  let requestNo = 0;
  const load = async () => {
    if (!view.seasonId || !view.ageGroupId || !view.divisionId) return;
    const mine = ++requestNo;
    view.loading = true;
    drawBody();
    try {
      const params = new URLSearchParams({ season_id: view.seasonId, age_group_id: view.ageGroupId, division_id: view.divisionId });
      const [table] = await Promise.all([api(`/api/table?${params}`), api(`/api/playoffs/bracket?${params}`).catch(() => [])]);
      if (mine !== requestNo) return;  // a newer filter change is on its way
      view.table = table;
    } catch (err) {
      if (mine !== requestNo) return;
      view.error = err.message;  // like the real table: never cleared by a later success
      view.table = null;
    }
    view.loading = false;
    drawBody();
  };

  try {
    [view.ageGroups, view.leagues, view.seasons, view.teams, view.divisions] = await Promise.all([
      api("/api/age-groups"), api("/api/leagues"), api("/api/seasons"), api("/api/teams"), api("/api/divisions")]);
  } catch (err) {
    view.error = err.message;
    view.loading = false;
    draw();
    return;
  }
  // Defaults: the user's own age group (else U14); division Northeast, or the own team's for non-admins.
  const team = state.profile.team ? view.teams.find((t) => t.id === state.profile.team.id) : null;
  const u14 = view.ageGroups.find((ag) => ag.name === "U14");
  view.ageGroupId = (team && team.age_groups[0] && team.age_groups[0].id) || (u14 ? u14.id : view.ageGroups[0]?.id);
  const ownDivision = team && state.profile.role !== "admin"
    ? (team.divisions_by_age_group[String(view.ageGroupId)] || {}).id : null;
  const division = view.divisions.find((d) => d.id === ownDivision) || view.divisions.find((d) => d.name === "Northeast")
    || view.divisions[0];
  view.divisionId = division ? division.id : null;
  const homegrown = view.leagues.find((l) => l.name === "Homegrown");
  view.leagueId = division ? division.league_id : homegrown?.id;
  const current = view.seasons.find((s) => s.is_current) || view.seasons[0];
  view.seasonId = current ? current.id : null;
  draw();
  load();
}

function standingsTable(data) {
  const qop = Boolean(data.has_qop_data);
  const header = [h("th", {}, "#"), h("th", { class: "md-only" }, "+/-"), h("th", {}, "Team"),
    SORTS.map(([key, label, mdOnly]) => h("th", { class: mdOnly ? "md-only" : "" },
      h("button", { type: "button", testid: `sort-${key}` }, key === "points" ? `${label} ▼` : label))),
    h("th", { class: "md-only" }, "Form"), qop && h("th", { class: "md-only" }, "QoP")];
  const rows = data.standings.map((r, i) => {
    let points = r.points;
    if (i === 0 && FAULTS.has("standings-rows-disagree")) points += 1;
    const move = r.position_change > 0 ? `▲${r.position_change}` : r.position_change < 0 ? `▼${-r.position_change}` : "—";
    return h("tr", { testid: "standings-row" },
      h("td", {}, String(i + 1)),
      h("td", { class: "md-only" }, move),
      h("td", {}, r.team_id ? h("button", { type: "button", testid: "standings-team-link" }, r.team) : r.team),
      h("td", {}, String(r.played)), h("td", {}, String(r.wins)), h("td", {}, String(r.draws)),
      h("td", {}, String(r.losses)), h("td", { class: "md-only" }, String(r.goals_for)),
      h("td", { class: "md-only" }, String(r.goals_against)), h("td", { class: "md-only" }, String(r.goal_difference)),
      h("td", {}, String(points)),
      h("td", { class: "md-only" }, (r.form || []).map((f) => h("span", { class: `form-badge form-${f}` }, f))),
      qop && h("td", { class: "md-only" }, r.qop_rank === null ? "" : String(r.qop_rank)));
  });
  return h("table", { testid: "standings-table" }, h("thead", {}, h("tr", {}, header)), h("tbody", { testid: "standings-body" }, rows));
}

// -- Add Match (MatchForm) --------------------------------------------------------------------------

// MatchForm.vue, watchers and all (contract §2.8). Its state is a small reactive model: ``set`` changes a field
// and queues the watchers that depend on it; the queue is flushed in a microtask, in the watchers' creation order,
// each watcher running only when one of its sources really changed (Vue's pre-flush watchers). So:
//   watcher 1 on [matchType, ageGroup, division]: with type and age group set, await fetchTeams() (never
//     cancelled; its answer replaces the team list, whenever it arrives) and THEN clear both team selects;
//   watcher 2 on matchType: a non-League type clears the division (which fires watcher 1 again), League picks
//     Northeast.
// Choosing Friendly after the default League therefore sends two team fetches (one with the old division_id, one
// without) and resets the teams after each answer; the sandbox API answers /api/teams after a random delay.
async function MatchForm(container) {
  const f = { seasons: [], ageGroups: [], matchTypes: [], divisions: [], teams: [], mode: "schedule" };
  const model = { season: null, ageGroup: null, matchType: null, division: null, home: "", away: "" };
  const form = h("form", { testid: "match-form", onsubmit: (e) => { e.preventDefault(); submit(); } });
  replace(container, form);
  try {
    [f.seasons, f.ageGroups, f.matchTypes, f.divisions] = await Promise.all([
      api("/api/active-seasons"), api("/api/age-groups"), api("/api/match-types"), api("/api/divisions")]);
  } catch (err) {
    replace(form, h("div", { testid: "message", class: "error" }, "Error loading form data"));
    return;
  }
  const byName = (rows, name) => rows.find((r) => r.name === name);
  const leagueId = () => (byName(f.matchTypes, "League") || {}).id;
  const isLeague = () => model.matchType === leagueId();
  const select = (testid, rows, extra = {}, placeholder = null) => h("select", { testid, ...extra },
    placeholder !== null && h("option", { value: "" }, placeholder),
    rows.map((r) => h("option", { value: String(r.id) }, r.name)));
  const seasonSel = select("season-select", f.seasons, { id: "season" });
  const ageSel = select("age-group-select", f.ageGroups, { id: "age_group" });
  const typeSel = select("match-type-select", f.matchTypes, { id: "match_type" });
  const divSel = select("division-select", f.divisions, { id: "division", required: true }, "Select Division");
  const divSection = h("div", { testid: "division-section" }, h("label", { for: "division" }, "Division"), divSel);
  // v-if="isLeagueMatch": the division section leaves the DOM (a hidden but present `required` select would
  // still block the submit).
  const divAnchor = document.createComment("division-section");
  const showDivision = (on) => {
    if (on && divAnchor.isConnected) divAnchor.replaceWith(divSection);
    else if (!on && divSection.isConnected) divSection.replaceWith(divAnchor);
  };
  const statusSel = h("select", { testid: "status-select", id: "status" },
    ["scheduled", "completed", "postponed", "cancelled"].map((s) => h("option", { value: s }, s)));
  const dateIn = h("input", { id: "match_date", testid: "date-input", type: "date", required: true });
  const kickoffIn = h("input", { id: "kickoff_time", testid: "kickoff-time-input", type: "time" });
  const homeSel = h("select", { id: "home_team", testid: "home-team-select", required: true });
  const awaySel = h("select", { id: "away_team", testid: "away-team-select", required: true });
  const scores = h("div", {});
  const message = h("div", { testid: "message" });
  const submitBtn = h("button", { type: "submit", testid: "submit-button" }, "Schedule Game");

  // -- the reactive model ---------------------------------------------------------------------------
  const domOf = { season: seasonSel, ageGroup: ageSel, matchType: typeSel, division: divSel };
  const watchers = [];
  const queued = new Set();
  let flushPending = false;
  const watch = (deps, run) => { watchers.push({ deps, run, last: deps.map((d) => model[d]) }); };
  const set = (key, value) => {
    if (model[key] === value) return;
    model[key] = value;
    if (domOf[key]) domOf[key].value = value === null ? "" : String(value);
    for (const w of watchers) if (w.deps.includes(key)) queued.add(w);
    if (queued.size && !flushPending) { flushPending = true; Promise.resolve().then(flush); }
  };
  const flush = () => {
    flushPending = false;
    for (let w = watchers.find((x) => queued.has(x)); w; w = watchers.find((x) => queued.has(x))) {
      queued.delete(w);
      const now = w.deps.map((d) => model[d]);
      if (now.every((v, i) => v === w.last[i])) continue;
      w.last = now;
      w.run();
    }
  };
  const renderTeams = () => {
    for (const [sel, key, label] of [[homeSel, "home", "Select home team"], [awaySel, "away", "Select away team"]]) {
      replace(sel, h("option", { value: "" }, label), f.teams.map((t) => h("option", { value: String(t.id) }, t.name)));
      sel.value = model[key];
    }
  };
  const setTeam = (key, value) => { model[key] = value; (key === "home" ? homeSel : awaySel).value = value; };

  const showMessage = (text, kind) => { message.textContent = text; message.className = kind; };
  const drawMode = () => {
    submitBtn.textContent = f.mode === "schedule" ? "Schedule Game" : "Submit Score";
    replace(scores, f.mode === "score" && [
      h("label", {}, "Home score", h("input", { testid: "home-score-input", type: "number", min: "0", value: "0" })),
      h("label", {}, "Away score", h("input", { testid: "away-score-input", type: "number", min: "0", value: "0" }))]);
  };
  const fetchTeams = async () => {
    const params = new URLSearchParams({ match_type_id: model.matchType, age_group_id: model.ageGroup });
    if (model.division) params.set("division_id", model.division);
    try {
      f.teams = await api(`/api/teams?${params}`);  // never cancelled: a late answer replaces a newer one
    } catch (err) {
      console.error("Error fetching teams:", err);
      f.teams = [];
      showMessage("Error loading teams", "error");
    }
    renderTeams();
  };

  // Watcher 1, then watcher 2 (creation order is flush order).
  watch(["matchType", "ageGroup", "division"], async () => {
    if (!model.matchType || !model.ageGroup) return;
    await fetchTeams();
    setTeam("home", "");  // reset team selections when a filter changes: after EVERY answer
    setTeam("away", "");
  });
  watch(["matchType"], () => {
    showDivision(isLeague());
    if (isLeague()) {
      if (!model.division) set("division", (byName(f.divisions, "Northeast") || f.divisions[0] || {}).id ?? null);
    } else {
      set("division", null);
    }
  });

  seasonSel.addEventListener("change", () => set("season", Number(seasonSel.value)));
  ageSel.addEventListener("change", () => set("ageGroup", Number(ageSel.value)));
  typeSel.addEventListener("change", () => set("matchType", Number(typeSel.value)));
  divSel.addEventListener("change", () => set("division", divSel.value ? Number(divSel.value) : null));
  homeSel.addEventListener("change", () => { model.home = homeSel.value; });
  awaySel.addEventListener("change", () => { model.away = awaySel.value; });

  const radio = (mode, testid, label) => h("label", {}, h("input", { type: "radio", name: "form_type", testid,
    checked: f.mode === mode, onchange: () => { f.mode = mode; drawMode(); } }), ` ${label}`);

  replace(form,
    h("div", { class: "radio-row" }, radio("schedule", "form-type-schedule", "Schedule New Match"),
      radio("score", "form-type-score", "Enter Score")),
    h("label", { for: "season" }, "Season"), seasonSel,
    h("label", { for: "age_group" }, "Age Group"), ageSel,
    h("label", { for: "match_type" }, "Match Type"), typeSel,
    divSection,
    h("label", { for: "match_date" }, "Date"), dateIn,
    h("label", { for: "kickoff_time" }, "Kickoff (optional)"), kickoffIn,
    h("label", { for: "home_team" }, "Home Team"), homeSel,
    h("label", { for: "away_team" }, "Away Team"), awaySel,
    h("label", { for: "status" }, "Status"), statusSel,
    scores, submitBtn, message);
  drawMode();
  renderTeams();
  // Defaults, as fetchReferenceData sets them: each one queues the watchers (the first team fetch and reset).
  const current = f.seasons.find((s) => s.is_current) || f.seasons[0];
  set("season", current ? current.id : null);
  set("ageGroup", (byName(f.ageGroups, "U14") || f.ageGroups[0] || {}).id ?? null);
  set("matchType", leagueId() ?? (f.matchTypes[0] || {}).id ?? null);
  set("division", (byName(f.divisions, "Northeast") || f.divisions[0] || {}).id ?? null);
  await fetchTeams();  // fetchReferenceData's own fetch once the defaults are set (no reset after this one)

  async function checkDuplicateMatch() {
    const params = new URLSearchParams({ date: dateIn.value, homeTeam: model.home, awayTeam: model.away });
    try {
      // Sent without a token, as the real form does: the 401 it gets counts as "no duplicate".
      return await api(`/api/check-match?${params}`, { auth: false });
    } catch (err) {
      console.error("Error checking for duplicate match:", err);
      return { exists: false };  // fail open
    }
  }

  async function submit() {
    showMessage("", "");
    if (model.home && model.home === model.away) { showMessage("Home and Away teams cannot be the same", "error"); return; }
    if (isLeague() && !model.division) { showMessage("Division is required for League matches", "error"); return; }
    const dup = await checkDuplicateMatch();
    if (dup && dup.exists) { showMessage("This match is already scheduled for this date", "error"); return; }
    const score = f.mode === "score";
    const payload = {
      match_date: dateIn.value, home_team_id: Number(model.home), away_team_id: Number(model.away),
      home_score: score ? Number(scores.querySelector('[data-testid="home-score-input"]').value) : 0,
      away_score: score ? Number(scores.querySelector('[data-testid="away-score-input"]').value) : 0,
      season_id: model.season, age_group_id: model.ageGroup, match_type_id: model.matchType,
      division_id: isLeague() ? model.division : null, status: statusSel.value,
    };
    if (kickoffIn.value) payload.scheduled_kickoff = `${dateIn.value}T${kickoffIn.value}:00`;
    submitBtn.disabled = true;
    try {
      if (!state.csrfToken) state.csrfToken = (await api("/api/csrf-token", { auth: false })).csrf_token;
      await api("/api/matches", { method: "POST", body: payload, headers: { "X-CSRF-Token": state.csrfToken } });
      showMessage(score ? "Score submitted successfully" : "Match scheduled successfully", "success");
      dateIn.value = "";
      kickoffIn.value = "";
      setTeam("home", "");
      setTeam("away", "");
    } catch (err) {
      console.error("Error submitting match:", err);
      showMessage("Error submitting match", "error");
    }
    submitBtn.disabled = false;
  }
}

// -- footer (VersionFooter) -------------------------------------------------------------------------

function envBadge() {
  const host = location.hostname;
  if (host === "missingtable.com" || host === "www.missingtable.com") return null;
  if (host === "localhost" || host === "127.0.0.1") return "local";
  if (host.startsWith("dev.")) return "dev";
  return "unknown";
}

function renderFooter() {
  const parts = [];
  if (signedIn()) {
    const label = state.version === null ? "Loading version..." : state.version;
    parts.push(h("button", { type: "button", testid: "whats-new-trigger", onclick: showChangelog }, label));
    const badge = envBadge();
    if (badge) parts.push(h("span", { class: "env-badge" }, badge));
  } else {
    parts.push(h("span", {}, `© ${new Date().getFullYear()} Missing Table`),
      h("a", { testid: "footer-support-link", href: "mailto:support@missingtable.com" }, "Support"));
  }
  replace(footerEl, parts);
  const showBanner = (state.versionFailed || FAULTS.has("api-error-banner")) && !state.bannerDismissed;
  replace(bannerEl, showBanner && h("div", { testid: "api-error-banner", role: "alert" },
    h("span", {}, "⚠ Could not reach the API server — some features may be unavailable."),
    h("button", { type: "button", onclick: loadVersion }, "Retry"),
    h("button", { type: "button", "aria-label": "Dismiss", onclick: () => { state.bannerDismissed = true; renderFooter(); } }, "✕")));
}

async function loadVersion() {
  try {
    const data = await api("/api/version", { auth: false });
    state.version = data.version;
    if (FAULTS.has("footer-wrong-version")) state.version = "1.0.0.1";
    state.versionFailed = false;
  } catch {
    state.version = "Unknown";
    state.versionFailed = true;
  }
  renderFooter();
}

async function showChangelog() {
  let text = "";
  try { text = await (await fetch("/changelog.md")).text(); } catch { text = "Could not load the changelog."; }
  const close = () => replace(modalEl);
  replace(modalEl, h("div", { class: "modal-overlay", onclick: (e) => { if (e.target === e.currentTarget) close(); } },
    h("div", { class: "modal-content", testid: "whats-new-modal" },
      h("button", { type: "button", class: "modal-close", onclick: close, "aria-label": "Close" }, "×"),
      h("pre", { style: "white-space: pre-wrap" }, text))));
}

// -- security plugin and monitor (plugins/security.js, utils/security-monitor.js) ---------------------

function installCspMeta() {
  const meta = document.createElement("meta");
  meta.httpEquiv = "Content-Security-Policy";
  // 'unsafe-eval': the real monitor reports "suspicious_eval" on every page, so eval runs there (is not blocked).
  meta.content = "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline' "
    + "https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com; connect-src 'self' http: https:; "
    + "img-src 'self' data: https:; frame-ancestors 'none'";
  document.head.appendChild(meta);
}

function reportSecurityEvents() {
  const count = 1 + Math.floor(Math.random() * 3);
  for (let i = 0; i < count; i++) {
    const event = { type: "suspicious_eval", severity: "critical", timestamp: new Date().toISOString(), url: location.href };
    console.warn("Security event detected:", event);
    fetch("/api/security/client-events", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: [event] }) }).catch(() => {});
  }
}

function registerServiceWorker() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
}

// -- start ------------------------------------------------------------------------------------------

function pollLive() {
  api("/api/matches/live").catch(() => {});
}

installCspMeta();
render();
loadVersion();
restoreSession();
reportSecurityEvents();
registerServiceWorker();
pollLive();
setInterval(pollLive, LIVE_POLL_MS);
if (FAULTS.has("console-error-unlisted")) {
  console.error("sandbox fault console-error-unlisted: [StandingsStore] failed to hydrate the cached table");
}
if (FAULTS.has("js-error-on-load")) {
  setTimeout(() => { throw new Error("sandbox fault js-error-on-load: cannot read properties of undefined"); }, 0);
}
