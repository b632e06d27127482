// Runs a Python script under the MicroPython WebAssembly build, with extra files placed
// in its filesystem under /lib (on sys.path), as the board keeps core.py next to main.py.
//   node run_micropython.mjs MICROPYTHON_MJS SCRIPT [FILE ...]
// Prints the script's stdout; a Python exception exits with status 1 and its traceback.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";

const [micropythonPath, scriptPath, ...files] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(micropythonPath).href);
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdirTree("/lib");
for (const file of files) {
  mp.FS.writeFile("/lib/" + basename(file), readFileSync(file));
}
try {
  mp.runPython(readFileSync(scriptPath, "utf8"));
} catch (err) {
  process.stderr.write(String(err) + "\n");
  process.exit(1);
}
