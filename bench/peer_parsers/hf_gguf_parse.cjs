// Time @huggingface/gguf's gguf() on one local file inside Node (start-up and require excluded).
// usage: node hf_gguf_parse.cjs PACKAGE_DIR FILE REPEATS
// Prints one JSON object: the median, minimum and count of the parse times, in milliseconds.
const [pkgDir, path, repeats] = process.argv.slice(2);
const { gguf } = require(pkgDir);

(async () => {
  const times = [];
  let count = 0;
  for (let i = 0; i < Number(repeats); i++) {
    const start = process.hrtime.bigint();
    const out = await gguf(path, { allowLocalFile: true });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    count = Object.keys(out.metadata).length + out.tensorInfos.length;
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  console.log(JSON.stringify({ median_ms: median, min_ms: times[0], runs: times.length, fields_and_tensors: count }));
})().catch((e) => {
  console.error(`hf_gguf_parse: ${e.message}`);
  process.exit(1);
});
