// fetch, trying again where the server said when to: a 503 (every worker busy, or a
// replica going away behind a proxy) comes with Retry-After, and an answer usually follows.
const RETRIES = 3;
const LONGEST_WAIT_S = 10;

// `onWait(seconds)` is told of each wait before it starts, so the page can say why nothing
// happens. The last answer is returned as it is, a 503 included.
export async function fetchRetrying(url, options = {}, onWait = () => {}) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, options);
    const header = response.headers.get("Retry-After");
    const wait = header === null ? NaN : Number(header);  // an HTTP date is not waited for
    if (response.status !== 503 || attempt >= RETRIES || !(wait >= 0)) return response;
    const seconds = Math.min(wait, LONGEST_WAIT_S);
    onWait(seconds);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}
