import type { Endpoint, EndpointName, Endpoints, Static, TOptional, TSchema } from "@sealpost/protocol";

type ParamsPart<E> = E extends { params: infer P extends TSchema } ? { params: Static<P> } : { params?: undefined };
type QueryPart<E> = E extends { query: infer Q extends TSchema } ? { query?: Static<Q> } : { query?: undefined };
type HeadersPart<E> = E extends { headers: infer H extends TSchema }
  ? { headers?: Static<H> }
  : { headers?: undefined };
type BodyPart<E> = E extends { body: infer B extends TSchema }
  ? B extends TOptional<TSchema>
    ? { body?: Static<B> }
    : { body: Static<B> }
  : { body?: undefined };

/** What a call of endpoint `E` takes: path parameters, query, request headers and JSON body, as the endpoint declares them. */
export type InputOf<E extends Endpoint> = ParamsPart<E> & QueryPart<E> & HeadersPart<E> & BodyPart<E>;

/** What a call of endpoint `E` answers: the body of its success responses (a union when it has several). */
export type OutputOf<E extends Endpoint> = {
  [S in keyof E["responses"]]: E["responses"][S] extends { schema: infer T extends TSchema } ? Static<T> : never;
}[keyof E["responses"]];

/** Endpoints with a JSON (or empty) request and response: every endpoint but file uploads and downloads. */
export type JsonEndpointName = {
  [K in EndpointName]: Endpoints[K] extends { upload: true }
    ? never
    : OutputOf<Endpoints[K]> extends ReadableStream<Uint8Array>
      ? never
      : K;
}[EndpointName];

/** The arguments of a generated method: the input is optional when nothing in it is required. */
export type ArgsOf<E extends Endpoint> =
  Record<string, never> extends InputOf<E>
    ? [input?: InputOf<E>]
    : object extends InputOf<E>
      ? [input?: InputOf<E>]
      : [input: InputOf<E>];

/** One typed method per JSON endpoint, named as in ENDPOINTS (client.getCase({ params: { id } }) ...). */
export type EndpointMethods = {
  [K in JsonEndpointName]: (...args: ArgsOf<Endpoints[K]>) => Promise<OutputOf<Endpoints[K]>>;
};
