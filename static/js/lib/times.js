// Times in the reader's zone: the one on their profile (data-time-zone), else the browser's.
const zone = () => document.documentElement.dataset.timeZone || undefined;
const lang = () => document.documentElement.lang || undefined;

function parts(date) {
  const format = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23",
  });
  return Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
}

export function dayKey(date) {
  const p = parts(date);
  return `${p.year}-${p.month}-${p.day}`;
}

export function minuteKey(date) {
  const p = parts(date);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

// "Today", "Yesterday", else the date ("Monday 3 March", with the year when it is not this one).
export function dayLabel(date, strings, now = new Date()) {
  const day = dayKey(date);
  if (day === dayKey(now)) return strings.today;
  if (day === dayKey(new Date(now.getTime() - 86400000))) return strings.yesterday;
  const sameYear = parts(date).year === parts(now).year;
  return new Intl.DateTimeFormat(lang(), {
    timeZone: zone(), weekday: "long", day: "numeric", month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(date);
}

export function localiseTimes(root = document) {
  const now = new Date();
  for (const node of root.querySelectorAll("time[data-local-time]")) {
    const when = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    const long = node.dataset.localTime === "long";
    const sameDay = dayKey(now) === dayKey(when);
    const options = long || !sameDay
      ? { dateStyle: "medium", timeStyle: "short" }
      : { timeStyle: "short" };
    node.textContent = new Intl.DateTimeFormat(lang(), { timeZone: zone(), ...options }).format(when);
    node.title = new Intl.DateTimeFormat(lang(), {
      timeZone: zone(), dateStyle: "full", timeStyle: "long",
    }).format(when);
  }
}

// Tell the server the browser's zone (cookie `tz`, read by chat.timezones): dates people type
// in, such as where someone's history starts, mean their own local time.
export function reportTimeZone() {
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!browser) return;
  const current = document.cookie.split("; ").find((c) => c.startsWith("tz="));
  if (current !== `tz=${encodeURIComponent(browser)}`) {
    document.cookie = `tz=${encodeURIComponent(browser)}; path=/; max-age=31536000; SameSite=Lax`;
  }
}
