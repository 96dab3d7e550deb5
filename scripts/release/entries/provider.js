// Entry of the single-file terraform-provider-teleport (see entries/cli.js for why not main.js).
const { main } = require('../../../dist/provider/main.js');

main(process.argv.slice(2)).then((code) => process.exit(code));
