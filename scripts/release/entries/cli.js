// Entry of the single-file `joinery`: dist/cli/main.js runs itself only when it is the main
// module, which it is not inside a bundle, so this calls its main() the same way.
const { main } = require('../../../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
