console.log("sealpost-server");
