// Stands in for pkcs11js in the single-file joinery: a native module cannot be bundled. Only a CA
// key in an HSM (`JOINERY_CA_KEY=pkcs11:...`) reaches this, and that is the server's business,
// which runs from the npm package.
const VERSION = require('../../../package.json').version;

module.exports = new Proxy(
  {},
  {
    get() {
      throw new Error(
        `the single-file joinery has no PKCS#11 module, so it cannot use a CA key in an HSM: ` +
          `install the npm package (npm install joinery-${VERSION}.tgz) and run \`npx joinery serve\``,
      );
    },
  },
);
