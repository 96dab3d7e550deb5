// The single-account-ec2 example app (the stacks are in stack.ts; README.md explains them).

import { App } from 'cdktf';
import { AuthServiceIamStack, Ec2TokenStack } from './stack';

const app = new App();
new AuthServiceIamStack(app, 'auth-service-iam');
new Ec2TokenStack(app, 'ec2-token');
app.synth();
