//! The capacity HTML as a reader sees it: `fleet capacity -o html` rendered by headless
//! Chromium (Debian's `chromium`, installed by scripts/test) at two window sizes, and read back
//! from the rendered page. A copy of the report gets a probe script (the report itself has
//! none) that writes what the browser laid out into the DOM Chromium dumps: the page's visible
//! text (`innerText`, which holds no tooltips), the width of a host's bar, whether the page
//! scrolls sideways, and the computed colours of the summary and container bars.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Written into the report's copy before `</body>`. Non-ASCII and markup characters are escaped
/// so that the JSON survives Chromium's serialization of the `<pre>` unchanged.
const PROBE: &str = r#"<script>
const bars = [...document.querySelectorAll('.bar')];
const seg = [...new Set([...document.querySelectorAll('.seg')].map(e => getComputedStyle(e).backgroundColor))];
const report = {
  text: document.body.innerText,
  viewport: window.innerWidth,
  scroll: document.documentElement.scrollWidth,
  bar: bars.length ? bars[0].getBoundingClientRect().width : 0,
  cards: document.querySelector('.cards').getBoundingClientRect().width,
  summary: [...document.querySelectorAll('.sum')].filter(e => !e.classList.contains('sw')).map(e => getComputedStyle(e).backgroundColor),
  segments: seg,
};
const json = JSON.stringify(report).replace(/[^\x20-\x7e]|[<>&]/g,
  c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
document.body.insertAdjacentHTML('beforeend', '<pre id="probe">' + json + '</pre>');
</script>"#;

fn spec(dir: &Path) -> std::path::PathBuf {
    // node-1: 4 CPUs at overcommit 2 (800% allocatable), node-2: 8 CPUs, node-3: no capacity
    // declared and not observed. Four webs of 100% and 2Gi spread over the known hosts, a db of
    // 200% and 8Gi pinned to node-2.
    let text = r#"apiVersion: fleet/v1
fleet: browser
hosts:
  - name: node-1
    transport: local
    capacity: {cpus: 4, memory: 16Gi, disk: 100Gi}
    overcommit: {cpu: 2}
  - name: node-2
    transport: local
    capacity: {cpus: 8, memory: 32Gi, disk: 200Gi}
  - name: node-3
    transport: local
containers:
  - name: web-{1..4}
    template: busybox
    command: ["/bin/sleep", "1000"]
    resources: {cpu: {limit: 100%}, memory: 2Gi, disk: {space: 10Gi}}
    placement: {spread: host}
  - name: db
    template: busybox
    command: ["/bin/sleep", "1000"]
    host: node-2
    resources: {cpu: {limit: 200%}, memory: 8Gi, disk: {space: 20Gi}}
"#;
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Where Chromium is, or `None` outside CI when it is not installed.
fn chromium() -> Option<&'static str> {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some("chromium");
    }
    let why = "chromium is not installed (scripts/test installs Debian's chromium)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// Renders `page` at `width` x 900 and returns the probe's report.
fn render(browser: &str, page: &Path, width: u32, profile: &Path) -> Value {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},900"),
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Chromium is not the part under test: bound its run so a wedged browser fails the test
    // instead of hanging the suite.
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish rendering {} in 90 s",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    // The last one: the probe's own text holds the tag too.
    let json = dom
        .rsplit_once("<pre id=\"probe\">")
        .and_then(|(_, rest)| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe in the rendered page: {dom}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn the_rendered_page_shows_the_figures_fills_the_window_and_says_unknown() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path());
    let page = dir.path().join("capacity.html");
    let o = Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["capacity", "-f", f.to_str().unwrap(), "-o", "html", "--out"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "the report itself runs nothing");
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();

    let narrow = render(browser, &probed, 800, &dir.path().join("profile"));
    let wide = render(browser, &probed, 1600, &dir.path().join("profile"));
    let text = narrow["text"].as_str().unwrap();

    // The figures are on the page, not only in tooltips. node-1's cpu: two webs of 100% of 800%
    // allocatable over 400% raw; node-2's memory: the db's 8Gi and two webs' 2Gi of 32Gi.
    for figure in [
        "200% of 800% allocated (25%), 600% free, raw 400%",
        "12Gi of 32Gi allocated (38%), 20Gi free",
        // The fleet's cards: 600% of 1600% (node-3 not counted), 16Gi of 48Gi.
        "600% of 1600% allocated (38%)",
        "16Gi of 48Gi allocated (33%)",
        "5 containers placed",
    ] {
        assert!(text.contains(figure), "{figure:?} not in the page:\n{text}");
    }
    // Each group's share is written out too: the db's row in the table of containers by host.
    assert!(
        text.lines()
            .any(|l| l.starts_with("node-2\tdb") && l.contains("200%\t8Gi\t20Gi")),
        "{text}"
    );
    // node-3's capacity is unknown: said in each resource's row, never a share of zero.
    let unknown_rows = text
        .lines()
        .filter(|l| l.contains(" allocated, capacity unknown"))
        .count();
    assert_eq!(unknown_rows, 3, "one per resource:\n{text}");
    assert!(text.contains("1 unknown, not counted"), "{text}");
    assert!(
        !text.contains("of 0 allocated") && !text.contains("of 0%"),
        "{text}"
    );

    // The layout follows the window: the bars take the width the wider window adds, and neither
    // window scrolls sideways.
    for v in [&narrow, &wide] {
        assert!(
            v["scroll"].as_f64() <= v["viewport"].as_f64(),
            "scrolls sideways: {v}"
        );
    }
    let (bar_narrow, bar_wide) = (
        narrow["bar"].as_f64().unwrap(),
        wide["bar"].as_f64().unwrap(),
    );
    assert!(bar_narrow > 100.0, "a usable bar at 800 px: {bar_narrow}");
    assert!(
        bar_wide > bar_narrow + 600.0,
        "the bar grows with the window: {bar_narrow} px at 800, {bar_wide} px at 1600"
    );
    let (cards_narrow, cards_wide) = (
        narrow["cards"].as_f64().unwrap(),
        wide["cards"].as_f64().unwrap(),
    );
    assert!(
        cards_wide > cards_narrow + 700.0,
        "{cards_narrow} -> {cards_wide}"
    );

    // Summaries and containers are told apart by colour.
    let colours = |key: &str| -> Vec<&str> {
        narrow[key]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect()
    };
    let (summary, segments) = (colours("summary"), colours("segments"));
    assert_eq!(summary.len(), 3, "a summary bar per resource: {narrow}");
    assert!(
        segments.len() >= 2,
        "web and db in their own colours: {segments:?}"
    );
    for s in &summary {
        assert!(
            !segments.contains(s),
            "summary colour {s} is a container's: {segments:?}"
        );
    }
}
