// The gRPC server. Every service is registered twice: under the generated paths
// (/chat.external.<Service>/<Method>) and under the same paths prefixed with /ext, as the real API
// serves them behind https://api.ppoppo.com/ext.
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  ExternalAppServiceService,
  ExternalChannelServiceService,
  ExternalMessageServiceService,
  ExternalTemplateServiceService,
} from '../../api/gen/ppoppo/external/v1/external';
import { withEveryMethod, type CallAuth, type Report } from './calls';

export const EXT_PREFIX = '/ext';

/** A copy of `service` whose method paths start with `prefix`. */
export function withPathPrefix<T extends ServiceDefinition>(service: T, prefix: string): T {
  return Object.fromEntries(Object.entries(service).map(([name, method]) => [name, { ...method, path: `${prefix}${method.path}` }])) as T;
}

export interface Implementations {
  message: UntypedServiceImplementation;
  template: UntypedServiceImplementation;
  app: UntypedServiceImplementation;
}

export function createGrpcServer(impl: Implementations, auth: CallAuth, report: Report): Server {
  const server = new Server();
  const services: Array<[ServiceDefinition, UntypedServiceImplementation]> = [
    [ExternalMessageServiceService, impl.message],
    [ExternalTemplateServiceService, impl.template],
    [ExternalAppServiceService, impl.app],
    [ExternalChannelServiceService, {}], // every method UNIMPLEMENTED (after the token check)
  ];
  for (const [definition, implemented] of services) {
    const implementation = withEveryMethod(definition, implemented, auth, report);
    server.addService(definition, implementation);
    server.addService(withPathPrefix(definition, EXT_PREFIX), implementation);
  }
  return server;
}

export function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
  });
}
