// Failure messages and stack traces go into an encoded attributes payload (which the payload codec
// encrypts) instead of the failure's cleartext fields. Loaded by path (DataConverter
// failureConverterPath): the SDK require()s it and bundles it into the workflow code, so it is plain
// CommonJS.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
